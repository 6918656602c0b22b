"""Where the tests reach into Airflow internals that moved between the 3.x lines (the product's own
differences are in oh_outlook_provider/version_compat.py): one import each, for every line."""

from __future__ import annotations

from oh_outlook_provider.version_compat import AIRFLOW_VERSION

# `airflow connections test` exits 1 on a failed test from 3.3.2 on; 3.0 to 3.3.1 print "Connection failed!" and the
# provider's message and exit 0 (cli/commands/connection_command.py of each line).
CONNECTIONS_TEST_FAILED_EXIT = 1 if AIRFLOW_VERSION >= (3, 3, 2) else 0
# POST /api/v2/connections/test fills in a stored connection's values (the masked secret '***') from 3.1 on; 3.0 tests
# the body as sent, and its UI has no Test button (routes/public/connections.py, ui/src/pages/Connections).
CONNECTION_TEST_READS_STORED = AIRFLOW_VERSION >= (3, 1, 0)

try:  # 3.1 and newer: the masker lives in the task SDK's shared library
    from airflow.sdk._shared.secrets_masker import secrets_masker
except ImportError:  # 3.0
    from airflow.sdk.execution_time import secrets_masker

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # 3.0 and 3.1
    from airflow.models.dagbag import DagBag

try:
    from airflow._shared.module_loading import entry_points_with_dist
except ImportError:  # 3.0 and 3.1
    from airflow.utils.entry_points import entry_points_with_dist


def fastapi_root_middlewares() -> list:
    """The root middlewares Airflow's api-server would install from plugins."""
    from airflow import plugins_manager

    if hasattr(plugins_manager, "get_fastapi_plugins"):  # 3.2 and newer
        return plugins_manager.get_fastapi_plugins()[1]
    plugins_manager.initialize_fastapi_plugins()
    return list(plugins_manager.fastapi_root_middlewares or [])


__all__ = ["CONNECTIONS_TEST_FAILED_EXIT", "CONNECTION_TEST_READS_STORED", "DagBag", "entry_points_with_dist",
           "fastapi_root_middlewares", "secrets_masker"]
