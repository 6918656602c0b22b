"""A listener `make bench-fleet` installs as a plugin in its own Airflow home: the task process's own
CPU and wall time at the start and end of a task's execution, one JSON line per task instance.

Airflow's task runner calls `on_task_instance_running` in the task process just before `execute`
(after the process was forked, the DAG file parsed and the task instance fetched) and
`on_task_instance_success` / `_failed` / `_skipped` after it (the return value already pushed to
XCom). So `cpu_running` is the process's start-up CPU (seconds, user + system, `time.process_time`),
`cpu_end - cpu_running` the task's own work (for a tenant task: token, user mapping check,
openHandwerk read, snapshot file, the sync of its mailboxes, the asset event), and
`t_end - t_running` the same in wall seconds. Nothing is written outside a task process (the
scheduler and api-server load plugins too, but never run these hooks for a running task).
The file is named by the environment variable OH_FLEET_PROBE_FILE; without it the probe is silent.
"""

from __future__ import annotations

import json
import os
import resource
import time
from typing import Any

from airflow.listeners import hookimpl

_started: dict[tuple, tuple[float, float]] = {}


def _key(ti: Any) -> tuple:
    return (ti.dag_id, ti.run_id, ti.task_id, ti.map_index, getattr(ti, "try_number", None))


def _process_start() -> float:
    """This process's start as a Unix time (from /proc: clock ticks after boot)."""
    ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
    boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _started[_key(task_instance)] = (time.time(), time.process_time())


def _finish(task_instance: Any, state: str) -> None:
    path = os.environ.get("OH_FLEET_PROBE_FILE")
    started = _started.pop(_key(task_instance), None)
    if not path or started is None:
        return
    dag_id, run_id, task_id, map_index, try_number = _key(task_instance)
    row = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index, "try": try_number,
           "state": state, "pid": os.getpid(), "t_process": round(_process_start(), 3),
           "t_running": started[0], "t_end": time.time(), "cpu_running": started[1], "cpu_end": time.process_time(),
           "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    with open(path, "a") as out:  # one short line per write: appends from many processes stay whole
        out.write(json.dumps(row) + "\n")


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _finish(task_instance, "success")


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    _finish(task_instance, "failed")


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    _finish(task_instance, "skipped")
