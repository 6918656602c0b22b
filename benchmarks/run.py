"""`make bench`: sync cost against Graph's real limits, versus a naive baseline, in one process.

The sandbox runs in a child process with latency (30 ms + jitter) and Outlook's limits (4
concurrent requests per mailbox, request budget), so CPU and memory figures are the client's
own. Results: a printed table and JSON under .bench/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import requests

from benchmarks import airflow_costs
from benchmarks.competent import competent_sync
from benchmarks.naive import naive_sync
from devtools import with_checkout_on_path
from oh_outlook_provider.hooks.office365 import Office365Hook
from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
from oh_outlook_provider.hooks.settings import office365_settings, openhandwerk_settings
from oh_outlook_provider.runners.calendar_sync import CalendarSync, SyncOptions
from oh_outlook_provider.runners.user_mapping import run_user_mapping
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.tags import source_id

ROOT = Path(__file__).resolve().parent.parent
BASE_DATE = dt.date(2026, 3, 20)
WINDOW = Window(dt.datetime.combine(BASE_DATE - dt.timedelta(days=30), dt.time(), dt.UTC),
                dt.datetime.combine(BASE_DATE + dt.timedelta(days=90), dt.time(), dt.UTC))


class Sandbox:
    """The sandbox in a child process, driven through its control API."""

    def __init__(self, latency_ms: float, jitter_ms: float):
        self.tmp = tempfile.TemporaryDirectory(prefix="oh-bench-")
        settings_file = Path(self.tmp.name) / "settings.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.sandbox", "serve", "--port", "0", "--latency-ms",
             str(latency_ms), "--jitter-ms", str(jitter_ms), "--tls-dir", self.tmp.name, "--settings-file",
             str(settings_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=with_checkout_on_path(os.environ))
        for _ in range(300):
            if settings_file.exists() and settings_file.stat().st_size:
                break
            time.sleep(0.05)
        self.settings = json.loads(settings_file.read_text())
        self.base = self.settings["base_url"]
        self.http = requests.Session()
        self.http.verify = self.settings["ca_bundle"]
        for _ in range(100):
            try:
                self.http.get(f"{self.base}/_sandbox/stats", timeout=1, verify=self.settings["ca_bundle"])
                return
            except requests.RequestException:
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used: on 2 cores the emulator's own work competes with the client's."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, f"{self.base}/_sandbox/{path}", json=body, timeout=600,
                                     verify=self.settings["ca_bundle"])
        response.raise_for_status()
        return response.json()

    def reload(self, employees: int, per_employee: int, latency_ms: float, jitter_ms: float,
               execution: str = "four_at_a_time", faults: dict | None = None) -> dict:
        """A fresh tenant; `faults`: Faults fields (probabilities per request, Retry-After), none when empty."""
        return self.call("POST", "reload", {"seed": 42, "employees": employees, "appointments_per_employee": per_employee,
                                            "base_date": BASE_DATE.isoformat(), "span_days": 60, "cases": False,
                                            "access_policy": False, "latency_ms": latency_ms, "jitter_ms": jitter_ms,
                                            "behaviour": {"batch_execution": execution}, "faults": faults or {}})

    def hooks(self) -> tuple[Office365Hook, OpenHandwerkHook]:
        def conn(data, conn_id):
            return SimpleNamespace(conn_id=conn_id, host=data.get("host"), schema=data.get("schema"),
                                   login=data["login"], password=data["password"], extra=json.dumps(data["extra"]))

        o365 = json.loads(self.settings["AIRFLOW_CONN_OFFICE365_DEFAULT"])
        oh = json.loads(self.settings["AIRFLOW_CONN_OPENHANDWERK_DEFAULT"])
        return (Office365Hook(settings=office365_settings(conn(o365, "office365_default"))),
                OpenHandwerkHook(settings=openhandwerk_settings(conn(oh, "openhandwerk_default"))))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.tmp.cleanup()


def lower_bound(per_mailbox: dict, latency_s: float) -> float:
    """The time Graph's limits allow at best, from those limits alone: every mailbox at once (Graph
    limits each mailbox, not how many an app serves), 4 requests in flight per mailbox, each taking
    the sandbox's mean latency. Our client's own concurrency settings play no part in it."""
    return max((math.ceil(sum(v.values()) / 4) * latency_s for v in per_mailbox.values()), default=0.0)


def measure(sandbox: Sandbox, label: str, run, latency_s: float) -> dict:
    sandbox.call("POST", "reset-counters")
    cpu0, wall0, server0 = time.process_time(), time.perf_counter(), sandbox.cpu_seconds()
    counts = run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    server_cpu = sandbox.cpu_seconds() - server0
    stats = sandbox.call("GET", "stats")
    per_mailbox = stats["requests"]
    reads = sum(v.get("read", 0) for v in per_mailbox.values())
    writes = sum(v.get("write", 0) for v in per_mailbox.values())
    written = sum(counts.get(k, 0) for k in ("create", "update", "delete"))
    events = sum(counts.get(k, 0) for k in ("create", "update", "unchanged"))
    return {
        "label": label, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "sandbox_cpu_s": round(server_cpu, 3),
        "http_requests": stats["http_requests"], "batch_calls": stats["batch_calls"], "read_subrequests": reads,
        "write_subrequests": writes, "written_events": written, "events_in_window": events,
        "requests_per_written_event": round(stats["http_requests"] / written, 4) if written else None,
        "throttled_429": stats["throttled_total"], "max_in_flight_per_mailbox": stats["max_in_flight"],
        "mailboxes": len(per_mailbox), "lower_bound_s": round(lower_bound(per_mailbox, latency_s), 3),
        "per_mailbox_writes": {m: v.get("write", 0) for m, v in per_mailbox.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "counts": counts,
    }


def ours(sandbox: Sandbox, mapping: dict, workers: int):
    def run() -> dict:
        graph, oh = sandbox.hooks()
        summary = CalendarSync(graph, oh, mapping, SyncOptions(window=WINDOW, source=source_id(oh.settings.id_kn),
                                                                zone=oh.settings.timezone, max_workers=workers,
                                                                salt=uuid.uuid4().hex)).run()
        if summary["failed"]:
            raise RuntimeError(f"sync failed: {summary['failed']}")
        return summary["totals"]
    return run


def baseline(sandbox: Sandbox, mapping: dict, sync):
    def run() -> dict:
        graph, oh = sandbox.hooks()
        return sync(graph, oh, mapping, WINDOW, uuid.uuid4().hex)
    return run


def scenario(sandbox: Sandbox, employees: int, per_employee: int, args, baselines: tuple[str, ...] = (),
             execution: str = "four_at_a_time") -> list[dict]:
    latency_s = (args.latency_ms + args.jitter_ms / 2) / 1000
    rows = []
    strategies = [("ours", lambda m: ours(sandbox, m, args.workers))]
    if "competent" in baselines:
        strategies.append(("competent", lambda m: baseline(sandbox, m, competent_sync)))
    if "naive" in baselines:
        strategies.append(("naive", lambda m: baseline(sandbox, m, naive_sync)))
    for name, make in strategies:
        sandbox.reload(employees, per_employee, args.latency_ms, args.jitter_ms, execution)
        graph, oh = sandbox.hooks()
        mapping = run_user_mapping(graph, oh, verify_mailboxes=False)[0].mapping()
        run = make(mapping)
        rows.append(measure(sandbox, f"{name} initial", run, latency_s))
        rows.append(measure(sandbox, f"{name} rerun", run, latency_s))
        sandbox.call("POST", "churn", {"fraction": 0.1, "seed": 7})
        rows.append(measure(sandbox, f"{name} 10% changed", run, latency_s))
    return rows


def print_rows(title: str, rows: list[dict]) -> None:
    """One line a run; `x bound` is wall time over the Graph-derived bound, `vs comp.` and `vs naive` how
    many times faster ours is than each baseline in the same phase (measured in this process)."""
    print(f"\n{title}")
    head = (f"{'run':22} {'wall s':>7} {'bound s':>7} {'x bound':>7} {'vs comp.':>8} {'vs naive':>8} {'HTTP':>6} "
            f"{'batch':>6} {'reads':>6} {'writes':>7} {'events':>7} {'req/ev':>7} {'429':>5} {'max/mb':>6} "
            f"{'CPU s':>6} {'srv CPU':>7} {'RSS MB':>7}")
    print(head)
    print("-" * len(head))
    by = {r["label"]: r for r in rows}
    for r in rows:
        name, phase = r["label"].split(" ", 1)
        ratios = []
        for other in ("competent", "naive"):
            theirs = by.get(f"{other} {phase}")
            ratios.append(f"{theirs['wall_s'] / r['wall_s']:.1f}x" if name == "ours" and theirs else "")
        bound = f"{r['wall_s'] / r['lower_bound_s']:.2f}" if r["lower_bound_s"] else "-"
        rpe = f"{r['requests_per_written_event']:.3f}" if r["requests_per_written_event"] is not None else "-"
        print(f"{r['label']:22} {r['wall_s']:7.2f} {r['lower_bound_s']:7.2f} {bound:>7} {ratios[0]:>8} "
              f"{ratios[1]:>8} {r['http_requests']:6} "
              f"{r['batch_calls']:6} {r['read_subrequests']:6} {r['write_subrequests']:7} {r['written_events']:7} "
              f"{rpe:>7} {r['throttled_429']:5} {r['max_in_flight_per_mailbox']:6} {r['cpu_s']:6.2f} "
              f"{r['sandbox_cpu_s']:7.2f} {r['peak_rss_mb']:7.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--employees", type=int, default=20)
    parser.add_argument("--appointments", type=int, default=150, help="per employee")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=32, help="our client's mailboxes at once (not a Graph limit)")
    parser.add_argument("--full", action="store_true", help="also the largest scaling cells")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args(argv)
    out_dir = ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    results: dict = {"args": vars(args), "started": dt.datetime.now(dt.UTC).isoformat()}
    sandbox = Sandbox(args.latency_ms, args.jitter_ms)
    try:
        for execution in ("four_at_a_time", "all_at_once"):
            baselines = ("competent",) + (("naive",) if execution == "four_at_a_time" and not args.skip_naive else ())
            rows = scenario(sandbox, args.employees, args.appointments, args, baselines, execution)
            results[f"default {execution}"] = rows
            print_rows(f"{args.employees} employees x {args.appointments} appointments, latency {args.latency_ms:g} ms + "
                       f"{args.jitter_ms:g} ms jitter, Retry-After in whole seconds; Graph runs a parallel batch "
                       f"{execution.replace('_', ' ')} (row B5); our client: {args.workers} mailboxes at once, "
                       "4 requests per mailbox", rows)
        if not args.skip_scaling:
            cells = [(e, a) for e in (10, 40, 160) for a in (50, 250, 1000)
                     if args.full or e * a <= 10_000]
            scaling = []
            for e, a in cells:
                cell = scenario(sandbox, e, a, args)
                for r in cell:
                    r["label"] = f"{e}x{a} " + r["label"].split(" ", 1)[1]
                scaling.extend(cell[:2])
            results["scaling"] = scaling
            print_rows("Scaling (ours): employees x appointments per employee, initial and rerun", scaling)
    finally:
        sandbox.close()
    costs = airflow_costs.measure_all()
    results["airflow"] = costs
    airflow_costs.print_costs(costs)
    path = out_dir / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    raise SystemExit(main())
