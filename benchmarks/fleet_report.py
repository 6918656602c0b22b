"""`make bench-fleet`'s figures from one cycle's raw measurements, and the printed tables with the
arithmetic for a target fleet (5,000 tenants x 20 mailboxes every 15 minutes) beside them.

Definitions (every figure per cycle, i.e. one run of oh_outlook_fleet_sync):
- Graph requests: HTTP requests to Graph's /v1.0 (a $batch counts once), from the sandbox's counters;
  token requests to Entra and openHandwerk requests (login included) are counted apart.
- task CPU (execute): the tenant task's own process, user + system, from just before `execute` to
  just after it (token, mapping check, openHandwerk read, snapshot file, sync, asset event);
  start-up CPU: the same process from its fork to `execute` (DAG file parse, task instance fetch).
- worker CPU: every process of the Celery workers' trees over the cycle (Celery, supervisors, task
  processes, exited ones included): what a worker machine pays, all tasks of the run included.
- Airflow overhead per task: its duration in the metadata DB (start_date -> end_date) minus the
  execute wall time; queue wait: queued_dttm -> start_date; idle: the cycle's seconds with no task running.
- DB rows / bytes: rows added to every metadata table (count and pg_column_size, before/after).
"""

from __future__ import annotations

import statistics
from typing import Any

FLEET_DAG = "oh_outlook_fleet_sync"
TARGET_TENANTS, TARGET_MAILBOXES, CYCLE_S, CYCLES_PER_DAY = 5000, 20, 900, 96
CONTROL = ("scheduler", "api-server", "dag-processor", "triggerer", "postgres", "redis")


def _covered(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for lo, hi in sorted(intervals):
        if end is None or lo > end:
            total, end = total + hi - lo, hi
        elif hi > end:
            total, end = total + hi - end, hi
    return total


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def cycle_figures(cycle: dict[str, Any], mailboxes_per_tenant: int) -> dict[str, Any]:
    """One cycle's figures (see the module docstring); per tenant = divided by the tenants synced."""
    tenants = cycle["tenants"]
    n = len(tenants)
    mailboxes = sum(t["mailboxes"] for t in tenants) or n * mailboxes_per_tenant
    counters = {k: sum(t["counters"][k] for t in tenants) for k in ("http_requests", "token_requests",
                                                                     "batch_calls", "oh_requests")}
    tis = [dict(zip(("task_id", "map_index", "state", "queued", "start", "end", "host", "try"), row, strict=True))
           for row in cycle["task_instances"]]
    ran = [t for t in tis if t["start"] is not None and t["end"] is not None]
    tenant_tis = [t for t in ran if t["task_id"] == "tenant"]
    probes = {(p["task_id"], p["map_index"]): p for p in cycle["probes"]}
    tenant_probes = [probes[("tenant", t["map_index"])] for t in tenant_tis if ("tenant", t["map_index"]) in probes]
    exec_wall = [p["t_end"] - p["t_running"] for p in tenant_probes]
    exec_cpu = [p["cpu_end"] - p["cpu_running"] for p in tenant_probes]
    startup_cpu = [p["cpu_running"] for p in tenant_probes]
    durations = {(t["task_id"], t["map_index"]): float(t["end"] - t["start"]) for t in ran}
    overhead = [durations[("tenant", p["map_index"])] - (p["t_end"] - p["t_running"]) for p in tenant_probes
                if ("tenant", p["map_index"]) in durations]
    fork_to_exec = [p["t_running"] - p["t_process"] for p in tenant_probes]
    queue = [float(t["start"] - t["queued"]) for t in ran if t["queued"] is not None]
    others = [t for t in ran if t["task_id"] != "tenant"]
    busy = _covered([(float(t["start"]), float(t["end"])) for t in ran])
    cpu = cycle["cpu"]
    worker_cpu = sum(v for k, v in cpu.items() if k.startswith("worker"))
    control_cpu = sum(cpu.get(k, 0.0) for k in CONTROL)
    rows = {t: v for t, v in cycle["rows"].items() if v[0] or (t == "(database size)")}
    xcom_bytes = sum(r[3] for r in cycle["xcom"])
    return {
        "label": cycle["label"], "workers": cycle["workers"], "state": cycle["state"], "tenants": n,
        "mailboxes": mailboxes, "wall_s": cycle["wall_s"], "idle_s": cycle["wall_s"] - busy,
        "task_instances": len(tis), "tis_by_task": _count(t["task_id"] for t in tis),
        "graph": counters["http_requests"], "tokens": counters["token_requests"], "oh": counters["oh_requests"],
        "batch": counters["batch_calls"],
        "exec_cpu_ms": 1000 * _mean(exec_cpu), "exec_wall_s": _mean(exec_wall),
        "startup_cpu_ms": 1000 * _mean(startup_cpu), "fork_to_exec_s": _mean(fork_to_exec),
        "task_s": _mean([durations[("tenant", t["map_index"])] for t in tenant_tis]),
        "overhead_s": _mean(overhead), "queue_s": _mean(queue),
        "fixed_tasks_s": sum(durations[(t["task_id"], t["map_index"])] for t in others),
        "probed": len(tenant_probes), "worker_cpu_s": worker_cpu, "control_cpu_s": control_cpu,
        "cpu": {k: round(v, 2) for k, v in cpu.items()},
        "rows": rows, "xcom_rows": sum(r[2] for r in cycle["xcom"]), "xcom_bytes": xcom_bytes,
        "xcom": [list(r) for r in cycle["xcom"]], "log_bytes": cycle["log_bytes"],
        "peak_rss_mb": cycle["peak_rss_mb"], "task_rss_mb": max((p["maxrss_kb"] for p in tenant_probes), default=0) / 1024,
    }


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def parse_figures(parsed: dict, cycles: list[dict]) -> dict:
    """Parse time and the DAG's task count, and task instances per run against tenants."""
    return {**parsed, "tis_per_run": [len(c["task_instances"]) for c in cycles],
            "tenants": [len(c["tenants"]) for c in cycles]}


def _k(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}"


def print_report(figures: list[dict], parse: dict, args: Any) -> None:
    """The tables: per cycle; per tenant and mailbox; metadata DB; the target fleet's arithmetic; targets."""
    f0 = figures[0]
    print(f"\nFleet sync through the stack: {f0['tenants']} tenants x {args.mailboxes} mailboxes x "
          f"{args.appointments} appointments, sandbox latency 30 ms + 10 ms jitter, Celery concurrency "
          f"{args.concurrency} per worker, pool oh_outlook_graph 64 slots (not the limit)")
    head = (f"{'cycle':14} {'wrk':>3} {'state':>7} {'wall s':>7} {'idle s':>6} {'TIs':>5} {'Graph':>6} {'token':>5} "
            f"{'oH':>5} {'task s':>6} {'exec s':>6} {'ovh s':>6} {'queue s':>7} {'fork>exec s':>11} "
            f"{'slot s/ten':>10} {'worker CPU s':>12} {'ctrl CPU s':>10} {'sandbox CPU s':>13} {'peak RSS MB':>14}")
    print(head + "\n" + "-" * len(head))
    for f in figures:
        print(f"{f['label']:14} {f['workers']:>3} {f['state']:>7} {f['wall_s']:7.1f} {f['idle_s']:6.1f} "
              f"{f['task_instances']:5} {f['graph']:6} {f['tokens']:5} {f['oh']:5} {f['task_s']:6.2f} "
              f"{f['exec_wall_s']:6.2f} {f['overhead_s']:6.2f} {f['queue_s']:7.2f} {f['fork_to_exec_s']:11.2f} "
              f"{f['wall_s'] * f['workers'] * args.concurrency / f['tenants']:10.2f} {f['worker_cpu_s']:12.1f} "
              f"{f['control_cpu_s']:10.1f} {f['cpu'].get('sandbox', 0):13.1f} "
              f"{'/'.join(str(v) for v in f['peak_rss_mb'].values()):>14}")
    print("task s: a tenant task's duration (metadata DB); exec s: its execute (probe); ovh s: task s - exec s "
          "(Airflow's start/teardown inside the task instance); queue s: queued -> started, every task; "
          "fork>exec s: task process start to execute; slot s/ten: wall x task slots / tenants; idle s: no task "
          "instance between its start and end (workers may still be starting or ending task processes). ctrl CPU: scheduler, "
          "api-server (execution API), dag-processor, triggerer, PostgreSQL, Redis.")

    print("\nPer tenant and per mailbox (2 workers)")
    head = (f"{'cycle':14} {'Graph/mbx':>9} {'Graph/ten':>9} {'token/ten':>9} {'oH/ten':>6} {'exec CPU ms/mbx':>15} "
            f"{'exec CPU ms/ten':>15} {'start-up CPU ms/ten':>19} {'worker CPU ms/ten':>17} "
            f"{'ctrl CPU ms/ten':>15} {'ovh s/ten':>9} {'exec s/ten':>10}")
    print(head + "\n" + "-" * len(head))
    per_mbx = {}
    for f in figures:
        if f["workers"] != figures[0]["workers"]:
            continue
        t, m = f["tenants"], f["mailboxes"]
        per_mbx[f["label"]] = f
        print(f"{f['label']:14} {f['graph'] / m:9.2f} {f['graph'] / t:9.2f} {f['tokens'] / t:9.2f} {f['oh'] / t:6.2f} "
              f"{f['exec_cpu_ms'] * t / m:15.1f} {f['exec_cpu_ms']:15.1f} {f['startup_cpu_ms']:19.1f} "
              f"{1000 * f['worker_cpu_s'] / t:17.1f} {1000 * f['control_cpu_s'] / t:15.1f} "
              f"{f['overhead_s']:9.2f} {f['exec_wall_s']:10.2f}")

    print("\nMetadata DB and logs per cycle (2 workers): rows / KB added, and per day at 96 cycles")
    tables = sorted({t for f in per_mbx.values() for t in f["rows"]})
    head = f"{'table':32}" + "".join(f"{f['label']:>22}" for f in per_mbx.values())
    print(head + "\n" + "-" * len(head))
    for table in tables:
        cells = "".join(f"{f['rows'].get(table, (0, 0))[0]:>10} / {f['rows'].get(table, (0, 0))[1] / 1024:>7.1f} KB"
                        for f in per_mbx.values())
        print(f"{table:32}{cells}")
    print(f"{'XCom (this run)':32}" + "".join(f"{f['xcom_rows']:>10} / {f['xcom_bytes'] / 1024:>7.1f} KB"
                                             for f in per_mbx.values()))
    print(f"{'task log files':32}" + "".join(f"{'':>10}   {f['log_bytes'] / 1024:>7.1f} KB" for f in per_mbx.values()))
    steady = per_mbx.get("steady state", f0)
    t = steady["tenants"]
    added = {k: v for k, v in steady["rows"].items() if k != "(database size)"}
    rows_t = sum(v[0] for v in added.values()) / t
    bytes_t = sum(v[1] for v in added.values()) / t
    print(f"steady state: {rows_t:.1f} rows / {bytes_t / 1024:.2f} KB of row data per tenant per cycle "
          f"({rows_t * CYCLES_PER_DAY:.0f} rows / {bytes_t * CYCLES_PER_DAY / 2**20:.2f} MB per tenant per day), "
          f"task logs {steady['log_bytes'] / t / 1024:.1f} KB per tenant per cycle; XCom by task/key: "
          + ", ".join(f"{r[0]}/{r[1]} {r[2]} x {r[3] / max(r[2], 1):.0f} B" for r in steady["xcom"]))
    _arithmetic(per_mbx, figures, parse, args)


def _arithmetic(per_mbx: dict[str, dict], figures: list[dict], parse: dict, args: Any) -> None:
    T, M = TARGET_TENANTS, TARGET_MAILBOXES
    print(f"\nArithmetic for {T:,} tenants x {M} mailboxes every {CYCLE_S // 60} minutes ({T * M:,} mailboxes, "
          f"{CYCLES_PER_DAY} cycles a day), from the measured per-tenant and per-mailbox figures; the execute CPU "
          f"is scaled per mailbox ({M} / {args.mailboxes}), all else per tenant")
    head = (f"{'cycle':14} {'Graph req/cycle':>15} {'Graph req/s':>11} {'Graph req/day':>13} {'tokens/cycle':>12} "
            f"{'oH req/cycle':>12} {'worker CPU s/cycle':>18} {'worker cores':>12} {'ctrl cores':>10} "
            f"{'DB rows/day':>12} {'DB MB/day':>9}")
    print(head + "\n" + "-" * len(head))
    for label, f in per_mbx.items():
        t, m = f["tenants"], f["mailboxes"]
        graph = f["graph"] / m * T * M
        exec_cpu_t = f["exec_cpu_ms"] / 1000 * M / (m / t)
        fixed_t = f["worker_cpu_s"] / t - f["exec_cpu_ms"] / 1000
        worker = T * (fixed_t + exec_cpu_t)
        ctrl = T * f["control_cpu_s"] / t
        added = {k: v for k, v in f["rows"].items() if k != "(database size)"}
        rows = sum(v[0] for v in added.values()) / t * T * CYCLES_PER_DAY
        mb = sum(v[1] for v in added.values()) / t * T * CYCLES_PER_DAY / 2**20
        print(f"{label:14} {_k(graph):>15} {graph / CYCLE_S:11.1f} {_k(graph * CYCLES_PER_DAY):>13} "
              f"{_k(f['tokens'] / t * T):>12} {_k(f['oh'] / t * T):>12} {_k(worker):>18} {worker / CYCLE_S:12.1f} "
              f"{ctrl / CYCLE_S:10.1f} {_k(rows):>12} {_k(mb):>9}")
        f["target"] = {"worker_cores": worker / CYCLE_S, "ctrl_cores": ctrl / CYCLE_S, "fixed_cpu_s": fixed_t,
                       "exec_cpu_s": exec_cpu_t}
    print("worker cores = 5,000 x (worker CPU per tenant - execute CPU per tenant [Airflow's per-task cost: Celery, "
          "supervisor, fork, parse, XCom] + execute CPU per mailbox x 20) / 900 s; ctrl cores = 5,000 x control-plane "
          "CPU per tenant / 900 s. A task slot per tenant: "
          f"{T:,} task starts per cycle = {T / CYCLE_S:.1f} per second.")
    walls = {f["workers"]: f["wall_s"] for f in figures if f["label"] == "steady state"}
    if len(walls) == 2:
        print(f"steady-state cycle wall, {figures[0]['tenants']} tenants: 2 workers {walls[2]:.0f} s, 1 worker "
              f"{walls[1]:.0f} s ({walls[1] / walls[2]:.2f}x) on {args.concurrency} task slots per worker")
    steady = per_mbx.get("steady state")
    if not steady:
        return
    m_t = steady["mailboxes"] / steady["tenants"]
    cpu_mbx = steady["exec_cpu_ms"] / m_t
    print("\nTargets (steady state)")
    rows = [
        ("Graph requests per mailbox", "<= 1", f"{steady['graph'] / steady['mailboxes']:.2f}",
         steady["graph"] <= steady["mailboxes"]),
        ("client CPU per mailbox (execute)", "<= 30 ms", f"{cpu_mbx:.1f} ms", cpu_mbx <= 30),
        ("Airflow overhead per tenant task", "small beside the sync",
         f"{steady['overhead_s']:.2f} s wall + queue {steady['queue_s']:.2f} s vs execute {steady['exec_wall_s']:.2f} s; "
         f"CPU {1000 * steady['target']['fixed_cpu_s']:.0f} ms vs execute {steady['exec_cpu_ms']:.0f} ms",
         steady["target"]["fixed_cpu_s"] * 1000 <= steady["exec_cpu_ms"]),
        ("DAG parse time", "constant in tenants",
         f"{1000 * parse['parse_s']:.0f} ms fresh, {1000 * parse['again_s']:.0f} ms again "
         "(registry not read)",
         parse["errors"] == 0),
        ("tasks in the DAG / TIs per run", "tenants + constant",
         f"{parse['tasks']} / " + ", ".join(f"{n} at {t} tenants" for n, t in zip(parse["tis_per_run"], parse["tenants"],
                                                                                 strict=True)),
         all(n - t == parse["tis_per_run"][0] - parse["tenants"][0] for n, t in zip(parse["tis_per_run"], parse["tenants"],
                                                                                     strict=True))),
    ]
    for name, target, measured, ok in rows:
        print(f"  {name:34} {target:22} {measured:70} {'met' if ok else 'NOT met'}")
