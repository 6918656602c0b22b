"""`make bench-fleet`: the fleet DAG (oh_outlook_fleet_sync) through the real stack (scheduler, dag-processor,
api-server, Celery workers on PostgreSQL and Redis) for 200 tenants x 5 mailboxes x 10 appointments, and
the arithmetic for 5,000 tenants x 20 mailboxes every 15 minutes next to the measured figures.

Cycles, each a triggered run of the fleet DAG: first sync (mappings made, calendars empty), steady state
(nothing changed), 10 % churn (every tenant's appointments changed through /_sandbox/churn), all with 2
workers; then steady state again with 1 worker (the second killed). Each worker runs 2 tasks at once
(--concurrency); the pool oh_outlook_graph is raised to 64 slots so that the workers are the limit.

Measured per cycle: Graph, token and openHandwerk requests (the sandbox's per-tenant counters); the
task's own CPU and wall time (benchmarks/fleet_probe.py, a listener in the task process: start-up up to
execute, and execute itself); the task instances' durations and queue waits from the metadata DB;
CPU of every component's process tree (user + system, exited children included); metadata DB rows and
bytes added (every table, before/after) and XCom bytes; task-log bytes on disk; peak RSS per worker.
The sandbox runs in its own process (30 ms + 10 ms jitter per request); its CPU is shown, not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg2
import requests
from sqlalchemy.engine import make_url

from benchmarks.fleet_report import FLEET_DAG, cycle_figures, parse_figures, print_report
from benchmarks.stack import PeakRss
from devtools import with_checkout_on_path
from devtools.stack import Stack, StackSettings, drop_database, unreachable

ROOT = Path(__file__).resolve().parent.parent
DB = "oh_outlook_fleet_bench"
# The probe's source with a plugin class after it: the task process imports the plugin file by path (the
# checkout itself is not on its sys.path, only the devtools import directory).
PLUGIN = (Path(__file__).with_name("fleet_probe.py").read_text()
          + "\n\nimport sys as _sys  # noqa: E402\n\nfrom airflow.plugins_manager import AirflowPlugin  # noqa: E402\n\n\n"
          "class FleetProbe(AirflowPlugin):\n    name = 'oh_fleet_probe'\n    listeners = [_sys.modules[__name__]]\n")


class FleetSandbox:
    """`python -m devtools.sandbox serve --fleet TxMxA` in its own process, driven by its control routes."""

    def __init__(self, tenants: int, mailboxes: int, appointments: int, latency_ms: float, jitter_ms: float) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="oh-bench-fleet-")
        settings_file = Path(self.tmp.name) / "settings.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.sandbox", "serve", "--port", "0", "--fleet",
             f"{tenants}x{mailboxes}x{appointments}", "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms),
             "--tls-dir", self.tmp.name, "--settings-file", str(settings_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=with_checkout_on_path(os.environ))
        for _ in range(1200):
            if settings_file.exists() and settings_file.stat().st_size:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"the fleet sandbox exited with {self.proc.returncode}")
            time.sleep(0.05)
        self.settings = json.loads(settings_file.read_text())
        self.base = self.settings["base_url"]
        self.http = requests.Session()
        for _ in range(200):  # the settings are written before the server listens
            try:
                self.call("GET", "fleet")
                break
            except requests.ConnectionError:
                time.sleep(0.05)

    def connections(self) -> dict[str, dict]:
        """{conn_id: connection} for every tenant (office365_<key>, openhandwerk_<key>)."""
        return {k.removeprefix("AIRFLOW_CONN_").lower(): json.loads(v) for k, v in self.settings.items()
                if k.startswith("AIRFLOW_CONN_")}

    def call(self, method: str, path: str, body: dict | None = None, **params: str) -> dict:
        answer = self.http.request(method, f"{self.base}/_sandbox/{path}", json=body, params=params, timeout=600,
                                   verify=self.settings["ca_bundle"])  # per call: REQUESTS_CA_BUNDLE beats a session's
        answer.raise_for_status()
        return answer.json()

    def tenants(self) -> list[dict]:
        return self.call("GET", "fleet")["tenants"]

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.tmp.cleanup()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, children already reaped included."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def service_cpu(name: str) -> float:
    """CPU seconds of every process of a system service (postgres, redis-server), reaped children included."""
    total = 0.0
    for p in psutil.process_iter(["name"]):
        if (p.info["name"] or "").startswith(name):
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + (t.children_user + t.children_system if p.ppid() == 1 else 0)
    return total


def component_cpu(stack: Stack, sandbox: FleetSandbox) -> dict[str, float]:
    out = {name: tree_cpu(p.pid) for name, p in stack.processes.items()}
    out["postgres"] = service_cpu("postgres")
    out["redis"] = service_cpu("redis-server")
    out["sandbox"] = sandbox.cpu_seconds()
    return out


def table_sizes(settings: StackSettings) -> dict[str, tuple[int, int]]:
    """{table: (rows, bytes of the rows' data as stored, pg_column_size)} for every table of the database."""
    url = make_url(settings.sql_alchemy_conn)
    with psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        out = {}
        for (table,) in cur.fetchall():
            cur.execute(f'SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM "{table}" t')
            out[table] = cur.fetchone()
        cur.execute("SELECT pg_database_size(current_database())")
        out["(database size)"] = (0, cur.fetchone()[0])
    return out


def run_query(settings: StackSettings, sql: str, *args: object) -> list[tuple]:
    url = make_url(settings.sql_alchemy_conn)
    with psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database) as conn, \
            conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def one_cycle(label: str, stack: Stack, sandbox: FleetSandbox, workers: list[str], probe: Path) -> dict:
    """Trigger one run of the fleet DAG and wait for it; the raw measurements (see fleet_report)."""
    keys = [t["key"] for t in sandbox.tenants()]
    for key in keys:
        sandbox.call("POST", "reset-counters", tenant=key)
    api = stack.api
    before_rows, before_logs = table_sizes(stack.settings), dir_bytes(stack.home / "logs")
    cpu0 = component_cpu(stack, sandbox)
    with PeakRss(stack, workers) as rss:
        started = time.monotonic()
        run_id = api.post(f"dags/{FLEET_DAG}/dagRuns", {"logical_date": None, "conf": {}})["dag_run_id"]
        while (run := api.get(f"dags/{FLEET_DAG}/dagRuns/{run_id}"))["state"] not in ("success", "failed"):
            time.sleep(0.5)
        wall = time.monotonic() - started
    time.sleep(2)  # the last task's supervisor and the scheduler finish their bookkeeping
    cpu1 = component_cpu(stack, sandbox)
    after_rows, after_logs = table_sizes(stack.settings), dir_bytes(stack.home / "logs")
    tis = run_query(stack.settings, "SELECT task_id, map_index, state, extract(epoch from queued_dttm), "
                    "extract(epoch from start_date), extract(epoch from end_date), hostname, try_number "
                    "FROM task_instance WHERE dag_id = %s AND run_id = %s", FLEET_DAG, run_id)
    xcom = run_query(stack.settings, "SELECT task_id, key, count(*), coalesce(sum(pg_column_size(value)), 0) "
                     "FROM xcom WHERE dag_id = %s AND run_id = %s GROUP BY task_id, key", FLEET_DAG, run_id)
    probes = [json.loads(line) for line in probe.read_text().splitlines() if line.strip()] if probe.exists() else []
    return {
        "label": label, "workers": len(workers), "state": run["state"], "run_id": run_id, "wall_s": wall,
        "tenants": sandbox.tenants(), "task_instances": tis, "xcom": xcom,
        "probes": [p for p in probes if p["run_id"] == run_id],
        "cpu": {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1},
        "rows": {t: (after_rows[t][0] - before_rows.get(t, (0, 0))[0], after_rows[t][1] - before_rows.get(t, (0, 0))[1])
                 for t in after_rows},
        "log_bytes": after_logs - before_logs,
        "peak_rss_mb": {n: round(v / 2**20) for n, v in rss.peak.items()},
    }


def parse_time(settings: StackSettings, env: dict[str, str]) -> dict:
    """Seconds to parse dags/oh_outlook_fleet_sync.py in a fresh process with Airflow imported (as the
    dag-processor's child does), and once more in the same process (modules loaded); median of 5. The
    registry Variable is never read at parse time, so the tenants play no part in it."""
    code = ("import time, airflow.sdk, airflow.models.dagbag as d\n"
            "t = time.perf_counter()\n"
            f"bag = d.DagBag(dag_folder={str(ROOT / 'dags' / 'oh_outlook_fleet_sync.py')!r})\n"
            "s = time.perf_counter() - t\n"
            "t = time.perf_counter()\n"
            f"d.DagBag(dag_folder={str(ROOT / 'dags' / 'oh_outlook_fleet_sync.py')!r})\n"
            "again = time.perf_counter() - t\n"
            f"dag = bag.dags[{FLEET_DAG!r}]\n"
            "import json; print(json.dumps({'parse_s': s, 'again_s': again, 'tasks': len(dag.tasks), "
            "'errors': len(bag.import_errors)}))")
    results = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    results.sort(key=lambda r: r["parse_s"])
    return results[len(results) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet")
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--mailboxes", type=int, default=5, help="per tenant")
    parser.add_argument("--appointments", type=int, default=10, help="per mailbox")
    parser.add_argument("--concurrency", type=int, default=2, help="tasks at once per Celery worker")
    parser.add_argument("--quick", action="store_true", help="40 tenants, for iterating")
    args = parser.parse_args(argv)
    if args.quick:
        args.tenants = 40
    begun = time.monotonic()
    base = StackSettings.from_env()
    db = make_url(base.sql_alchemy_conn).set(database=DB).render_as_string(hide_password=False)
    home = ROOT / ".bench" / "fleet"
    probe = home / "probe.jsonl"
    settings = StackSettings.from_env(
        home=home, sql_alchemy_conn=db, result_backend="db+" + db.replace("+psycopg2", ""),
        broker_url=make_url(base.broker_url).set(database="13").render_as_string(hide_password=False),
        api_port=8091, concurrency=args.concurrency,
        extra_env={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False", "OH_FLEET_PROBE_FILE": str(probe),
                   "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
                   "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64"})
    reason = unreachable(settings)
    if reason:
        print(reason)
        return 1
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    (home / "plugins" / "oh_fleet_probe.py").write_text(PLUGIN)
    probe.unlink(missing_ok=True)
    print(f"fleet sandbox {args.tenants}x{args.mailboxes}x{args.appointments} ...", flush=True)
    sandbox = FleetSandbox(args.tenants, args.mailboxes, args.appointments, latency_ms=30, jitter_ms=10)
    stack = Stack(settings, {})
    cycles: list[dict] = []
    try:
        stack.start(fresh=True)
        api = stack.api
        api.patch("pools/oh_outlook_graph", {"pool": "oh_outlook_graph", "slots": 64, "include_deferred": False})
        entities = [{"connection_id": cid, **{k: v for k, v in c.items() if k != "extra"},
                     "extra": json.dumps(c.get("extra") or {})} for cid, c in sandbox.connections().items()]
        answer = api.request("PATCH", "connections", json={"actions": [
            {"action": "create", "entities": entities, "action_on_existence": "overwrite"}]})
        if answer["create"]["errors"]:
            raise RuntimeError(f"connections not created: {answer['create']['errors'][:3]}")
        registry = [{"key": t["key"], "name": t["name"]} for t in sandbox.tenants()]
        api.post("variables", {"key": "oh_outlook_tenants", "value": json.dumps(registry)})
        for _ in range(120):  # the dag-processor's first pass
            try:
                api.get(f"dags/{FLEET_DAG}")
                break
            except RuntimeError:
                time.sleep(1)
        api.patch(f"dags/{FLEET_DAG}", {"is_paused": False})
        print(f"stack ready after {time.monotonic() - begun:.0f} s", flush=True)
        workers = settings.worker_names
        for label in ("first sync", "steady state", "10% churn"):
            if label == "10% churn":
                for t in registry:
                    sandbox.call("POST", "churn", {"fraction": 0.1, "seed": 7}, tenant=t["key"])
            cycles.append(one_cycle(label, stack, sandbox, workers, probe))
            print(f"  {label}, {len(workers)} workers: {cycles[-1]['state']} in {cycles[-1]['wall_s']:.1f} s",
                  flush=True)
        stack.kill(workers[-1])
        cycles.append(one_cycle("steady state", stack, sandbox, workers[:-1], probe))
        print(f"  steady state, 1 worker: {cycles[-1]['state']} in {cycles[-1]['wall_s']:.1f} s", flush=True)
        api.patch(f"dags/{FLEET_DAG}", {"is_paused": True})
        parse = parse_figures(parse_time(settings, stack.environment()), cycles)
    except Exception as exc:  # the cycles measured so far are still printed
        print(f"bench-fleet stopped: {type(exc).__name__}: {exc}", flush=True)
        parse = parse_figures({"parse_s": float("nan"), "again_s": float("nan"), "tasks": 0, "errors": 1}, cycles)
    finally:
        stack.stop()
        drop_database(settings)
        sandbox.close()
    figures = [cycle_figures(c, args.mailboxes) for c in cycles]
    out = ROOT / ".bench" / "fleet.json"
    out.write_text(json.dumps({"args": vars(args), "figures": figures, "parse": parse,
                               "raw": [{k: v for k, v in c.items() if k not in ("tenants",)} for c in cycles]},
                              indent=1, default=str))
    if figures:
        print_report(figures, parse, args)
    print(f"\nmake bench-fleet: {time.monotonic() - begun:.0f} s on this machine ({os.cpu_count()} cores); "
          f"JSON: {out}")
    failed = [f["label"] for f in figures if f["state"] != "success"]
    return 1 if failed or len(figures) < 4 else 0


if __name__ == "__main__":
    raise SystemExit(main())
