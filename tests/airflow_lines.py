"""Where the tests reach into Airflow internals that moved between the 3.x lines (the product's own
differences are in oh_outlook_provider/version_compat.py): one import each, for every line."""

from __future__ import annotations

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


__all__ = ["DagBag", "entry_points_with_dist", "fastapi_root_middlewares", "secrets_masker"]
