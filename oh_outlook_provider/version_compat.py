"""Every difference between the Airflow 3 lines this provider supports (3.0.6 and newer), in one place.

As Airflow's own providers do (`airflow/providers/*/version_compat.py`): flags from the running
Airflow's version, and the names that moved between lines imported from where each line keeps
them. Code and DAG files import these names from here, never from a version check of their own.

What moved (Airflow's release notes, checked against the installed source of each line):
- 3.1 moved `BaseHook` into the Task SDK (`airflow.sdk`; 3.0: `airflow.hooks.base`) and added
  `BaseHook.aget_connection` for triggers; 3.2 moved the cron timetables and the task exceptions
  there too (`airflow.sdk`, `airflow.sdk.exceptions`; before: `airflow.timetables`, `airflow.exceptions`).
- 3.3 reads a provider's declarative connection form (`conn-fields` in provider info); older UIs
  render the hook's `get_connection_form_widgets` (see hooks/connection_form.py).
- The connection *Test* of a stored connection (POST /api/v2/connections/test): 3.0 tests the
  values as sent (its UI has no Test button); 3.1 and 3.2 fill in the stored ones; 3.3.1 and
  3.3.2 refuse the form's `port: 0` with 400 "The host or port to test differs from the stored
  connection" (`_same_endpoint`, routes/public/connections.py; 3.3.0 has no such check, 3.4.0b2
  treats 0 as blank: apache/airflow PR 73298), which the provider's plugin works around.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

from packaging.version import Version

AIRFLOW_VERSION: tuple[int, int, int] = (*Version(Version(version("apache-airflow")).base_version).release, 0, 0)[:3]
AIRFLOW_V_3_1_PLUS = AIRFLOW_VERSION >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3, 0)
# The lines whose connection Test refuses the form's `port: 0` for a stored connection (see above).
CONNECTION_TEST_REFUSES_PORT_ZERO = (3, 3, 1) <= AIRFLOW_VERSION <= (3, 3, 2)

if AIRFLOW_V_3_1_PLUS:
    from airflow.sdk import BaseHook
else:  # 3.0
    from airflow.hooks.base import BaseHook
if AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException, TaskDeferred
else:  # 3.0 and 3.1
    from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException, TaskDeferred
    from airflow.timetables.interval import CronDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable

async def aget_connection(conn_id: str) -> Any:
    """A connection read from inside a trigger's `run()` (the triggerer's event loop).

    3.1 and newer have `BaseHook.aget_connection`. On 3.0 the synchronous read goes through the
    supervisor with async_to_sync, which refuses to run in the event loop's own thread ("You cannot
    use AsyncToSync in the same thread as an async event loop", apache/airflow issue 54350), so
    it runs in a worker thread instead.
    """
    if hasattr(BaseHook, "aget_connection"):
        return await BaseHook.aget_connection(conn_id)
    return await asyncio.to_thread(BaseHook.get_connection, conn_id)


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "CONNECTION_TEST_REFUSES_PORT_ZERO",
    "AirflowException",
    "AirflowFailException",
    "AirflowSkipException",
    "BaseHook",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "TaskDeferred",
    "aget_connection",
]
