"""A local Entra ID + Microsoft Graph + openHandwerk API for demos, tests and benchmarks.

Faithful where Microsoft is strict (validation, permissions, throttling, error shapes), so
that code which passes here does not break on a real tenant. Not for production data.
"""

from devtools.sandbox.fleet import Fleet
from devtools.sandbox.server import SandboxServer

__all__ = ["Fleet", "SandboxServer"]
