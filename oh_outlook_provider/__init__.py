"""oh-outlook-provider: openHandwerk appointments -> Outlook calendars, as an Airflow provider.

Importing this package must stay cheap: Airflow imports it on every DAG parse and in the
api-server, so nothing here touches msal, requests or the network. The layout is explained in
docs/architecture.md: this root holds only what Airflow or a DAG author imports by name.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oh-outlook-provider")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

