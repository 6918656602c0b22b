"""Developer tooling run from the checkout, never shipped: the sandbox (emulator), the stack launcher, the demo.

Nothing here is in the wheel, so a process these tools start finds `devtools` only through
`with_checkout_on_path`: Airflow's console scripts (`airflow celery worker` importing the hostname
callable `devtools.stack.hostname`) and `python -m devtools.sandbox` do not look in the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: devtools/, dags/, oh_outlook_provider/


def with_checkout_on_path(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` (a process environment) with the checkout root first on PYTHONPATH, once.

    Entries already on PYTHONPATH keep their order behind it; `env` itself is not changed.
    """
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)]
    return {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), *rest])}
