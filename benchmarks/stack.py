"""`make bench-stack`: one sync run through the real stack (scheduler + Celery workers on PostgreSQL
and Redis) for a tenant of 200 mailboxes x 100 appointments, with 2 workers and with 1.

Printed: wall time from trigger to success; of it, the time in which no task ran (Airflow's own
scheduling and queueing between tasks); per shard, the sync's own time (CalendarSync.run, as the
operator measures it) and the whole task's time on the worker (the difference is task start and
teardown: process, DAG parse, connection fetch); metadata DB growth per run (XCom and task-instance
rows and bytes); peak RSS per worker (its whole process tree: Celery, pool processes, task
supervisors and tasks). The sandbox runs in its own process with 30 ms latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
from pathlib import Path

import psutil
import psycopg2
from sqlalchemy.engine import make_url

from benchmarks.run import Sandbox
from devtools.stack import Stack, StackSettings, drop_database, unreachable

ROOT = Path(__file__).resolve().parent.parent
SYNC = "oh_outlook_calendar_sync"
DB = "oh_outlook_stack_bench"


class PeakRss:
    """Samples each worker's process tree (Celery parent, pool children, task supervisors and tasks)."""

    def __init__(self, stack: Stack, names: list[str]) -> None:
        self.pids = {n: stack.processes[n].pid for n in names}
        self.peak = dict.fromkeys(names, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                    rss = sum(p.memory_info().rss for p in tree if p.is_running())
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def db_rows(settings: StackSettings, run_id: str) -> dict[str, int]:
    url = make_url(settings.sql_alchemy_conn)
    with psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(sum(pg_column_size(value)), 0) FROM xcom WHERE run_id = %s", (run_id,))
        xcom_rows, xcom_bytes = cur.fetchone()
        cur.execute("SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM task_instance t WHERE run_id = %s",
                    (run_id,))
        ti_rows, ti_bytes = cur.fetchone()
        cur.execute("SELECT pg_database_size(current_database())")
        (db_bytes,) = cur.fetchone()
    return {"xcom_rows": xcom_rows, "xcom_bytes": xcom_bytes, "ti_rows": ti_rows, "ti_bytes": ti_bytes,
            "db_bytes": db_bytes}


def one_run(stack: Stack, sandbox: Sandbox, employees: int, per_employee: int, workers: list[str]) -> dict:
    # Around today, so the rolling window (7 days back, 90 ahead) holds most appointments; calendars empty.
    sandbox.call("POST", "reload", {"seed": 42, "employees": employees, "appointments_per_employee": per_employee,
                                    "base_date": dt.date.today().isoformat(), "span_days": 60, "cases": False,
                                    "access_policy": False, "latency_ms": 30, "jitter_ms": 10})
    api = stack.api
    api.patch(f"dags/{SYNC}", {"is_paused": False})
    with PeakRss(stack, workers) as rss:
        started = time.monotonic()
        run_id = api.post(f"dags/{SYNC}/dagRuns", {"logical_date": None, "conf": {"shards": 4}})["dag_run_id"]
        while (run := api.get(f"dags/{SYNC}/dagRuns/{run_id}"))["state"] not in ("success", "failed"):
            time.sleep(0.5)
        wall = time.monotonic() - started
    api.patch(f"dags/{SYNC}", {"is_paused": True})
    if run["state"] != "success":
        raise SystemExit(f"the run failed; see {stack.logs}")
    tis = api.get(f"dags/{SYNC}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]
    shards = [t for t in tis if t["task_id"] == "sync_calendars"]
    summaries = [api.get(f"dags/{SYNC}/dagRuns/{run_id}/taskInstances/sync_calendars/xcomEntries/return_value",
                         map_index=t["map_index"], deserialize=True)["value"] for t in shards]
    def seconds(t: dict) -> float:
        return (dt.datetime.fromisoformat(t["end_date"]) - dt.datetime.fromisoformat(t["start_date"])).total_seconds()

    busy = covered([(dt.datetime.fromisoformat(t["start_date"]), dt.datetime.fromisoformat(t["end_date"])) for t in tis])
    totals: dict[str, int] = {}
    for s in summaries:
        for k, v in s["totals"].items():
            totals[k] = totals.get(k, 0) + v
    return {"workers": len(workers), "wall_s": round(wall, 1), "no_task_running_s": round(wall - busy, 1),
            "shard_sync_s": round(sum(s["duration_s"] for s in summaries) / len(summaries), 1),
            "shard_task_s": round(sum(seconds(t) for t in shards) / len(shards), 1), "tasks": len(tis),
            "hosts": sorted({t["hostname"] for t in shards}), "created": totals.get("create", 0),
            "peak_rss_mb": {n: round(v / 2**20) for n, v in rss.peak.items()}, **db_rows(stack.settings, run_id)}


def covered(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    """Seconds in which at least one of the intervals runs."""
    total, end = 0.0, None
    for lo, hi in sorted(intervals):
        if end is None or lo > end:
            total, end = total + (hi - lo).total_seconds(), hi
        elif hi > end:
            total, end = total + (hi - end).total_seconds(), hi
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stack")
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--appointments-per-employee", type=int, default=100)
    args = parser.parse_args(argv)
    base = StackSettings.from_env()
    db = make_url(base.sql_alchemy_conn).set(database=DB).render_as_string(hide_password=False)
    settings = StackSettings.from_env(home=ROOT / ".bench" / "stack", sql_alchemy_conn=db,
                                      result_backend="db+" + db.replace("+psycopg2", ""),
                                      broker_url=make_url(base.broker_url).set(database="14").render_as_string(
                                          hide_password=False), api_port=8089,
                                      # Only the measured runs: no cron run joins when the DAG is unpaused.
                                      extra_env={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"})
    reason = unreachable(settings)
    if reason:
        print(reason)
        return 1
    sandbox = Sandbox(latency_ms=30, jitter_ms=10)
    o365 = json.loads(sandbox.settings["AIRFLOW_CONN_OFFICE365_DEFAULT"])
    oh = json.loads(sandbox.settings["AIRFLOW_CONN_OPENHANDWERK_DEFAULT"])
    stack = Stack(settings, {"office365_default": o365, "openhandwerk_default": oh})
    results = []
    try:
        stack.start(fresh=True)
        time.sleep(5)  # let the dag-processor finish its first pass
        results.append(one_run(stack, sandbox, args.employees, args.appointments_per_employee, settings.worker_names))
        stack.kill(settings.worker_names[-1])
        results.append(one_run(stack, sandbox, args.employees, args.appointments_per_employee,
                               settings.worker_names[:-1]))
    finally:
        stack.stop()
        drop_database(settings)
        sandbox.close()
    print(f"\nOne sync run through the stack: {args.employees} mailboxes x {args.appointments_per_employee} "
          "appointments, 4 shards, pool oh_outlook_graph = 4, Graph latency 30 ms")
    head = f"{'workers':>7} {'wall s':>7} {'idle s':>7} {'shard: sync s':>13} {'task s':>7} {'created':>8} " \
           f"{'XCom rows/KB':>13} {'TI rows/KB':>11} {'peak RSS MB per worker':>24}"
    print(head + "\n" + "-" * len(head))
    for r in results:
        print(f"{r['workers']:>7} {r['wall_s']:>7} {r['no_task_running_s']:>7} {r['shard_sync_s']:>13} "
              f"{r['shard_task_s']:>7} {r['created']:>8} "
              f"{r['xcom_rows']:>5}/{r['xcom_bytes'] / 1024:<7.0f} {r['ti_rows']:>4}/{r['ti_bytes'] / 1024:<6.1f} "
              f"{', '.join(f'{n} {v}' for n, v in r['peak_rss_mb'].items()):>24}")
    ratio = results[1]["wall_s"] / results[0]["wall_s"]
    print(f"1 worker / 2 workers wall time: {ratio:.2f}x")
    out = ROOT / ".bench" / "stack.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"(JSON: {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
