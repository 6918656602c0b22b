"""`make bench`: the latency regimes side by side, ours against the competent and the naive client, in one run.

Graph's latency per request decides which strategy wins (issue 25): at 30 ms the client's CPU
matters, at 150 and 400 ms only how deep each mailbox's writes are. Every regime runs against
the same sandbox process and the same tenant (20 mailboxes x ~170 appointments by default), so
the ratios of one run compare like with like even on a loaded machine:

- `x bound`: wall time over the bound Graph's rules set for the writes alone, every mailbox at once,
  4 requests in flight per mailbox: max over mailboxes of ceil(writes / 4) x mean latency (the
  writes are the competent client's POSTs, one per event; the same events for every client);
- `÷ comp.`: wall time over the competent client's in the same regime (below 1: faster);
- `cores`: (client CPU + emulator CPU) / wall: near 2 the machine's 2 cores, not Graph, set the pace.

The naive client (sequential, one request per event) runs only at 30 ms: at 150 and 400 ms it
would take 3,406 x 0.18-0.45 s = 10-26 minutes a run. The fleet rows (200 mailboxes x 100
appointments, 2 ms) measure the rerun's client CPU per mailbox, what a fleet pays every 15 minutes.
Results: the table on stdout and JSON under .bench/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

from benchmarks.competent import competent_sync
from benchmarks.floor import request_floor
from benchmarks.naive import naive_sync
from benchmarks.run import ROOT, Sandbox, baseline, measure, ours
from benchmarks.tls import print_tls, run_tls
from oh_outlook_provider.runners.user_mapping import run_user_mapping

CORES_BOUND = 0.9  # client + emulator CPU over wall from which this 2-core machine, not Graph, sets the pace
FAULTS = {"p429": 0.01, "p503": 0.005, "retry_after": 1.0}  # per request; Retry-After 1 s (Graph: whole seconds)


@dataclass(frozen=True)
class Regime:
    """Latency per request (ms, plus uniform jitter: mean latency + jitter/2) and injected faults."""

    name: str
    latency_ms: float
    jitter_ms: float
    faults: dict = field(default_factory=dict)

    @property
    def mean_s(self) -> float:
        return (self.latency_ms + self.jitter_ms / 2) / 1000


REGIMES = (Regime("30 ms", 30, 10), Regime("150 ms", 150, 50), Regime("400 ms", 400, 100),
           Regime("150 ms, 429/503", 150, 50, FAULTS))


@dataclass
class Setup:
    employees: int = 20
    appointments: int = 150
    fleet: tuple[int, int] | None = (200, 100)
    naive: bool = True
    workers: int = 32


def bound_s(writes: dict[str, int], mean_s: float) -> float:
    """Graph's bound for the writes: every mailbox at once, 4 in flight per mailbox, the mean latency."""
    return max((math.ceil(n / 4) * mean_s for n in writes.values()), default=0.0)


def _tenant(sandbox: Sandbox, employees: int, appointments: int, regime: Regime, execution: str) -> dict:
    sandbox.reload(employees, appointments, regime.latency_ms, regime.jitter_ms, execution, regime.faults)
    graph, oh = sandbox.hooks()
    return run_user_mapping(graph, oh, verify_mailboxes=False)[0].mapping()


def _row(regime: Regime, client: str, phase: str, result: dict) -> dict:
    print(f"  {regime.name:22} {client:22} {phase:7} {result['wall_s']:7.2f} s", flush=True)  # progress
    return {"regime": regime.name, "client": client, "phase": phase, **{k: v for k, v in result.items()
                                                                       if k not in ("label", "lower_bound_s")}}


def run_regime(sandbox: Sandbox, regime: Regime, setup: Setup, naive: bool) -> list[dict]:
    rows = []
    clients = [("ours", "four_at_a_time"), ("ours", "all_at_once"), ("competent", "four_at_a_time")]
    if naive:
        clients.append(("naive", "four_at_a_time"))
    for client, execution in clients:
        mapping = _tenant(sandbox, setup.employees, setup.appointments, regime, execution)
        run = ours(sandbox, mapping, setup.workers) if client == "ours" else baseline(
            sandbox, mapping, competent_sync if client == "competent" else naive_sync)
        name = f"{client} ({'4 at a time' if execution == 'four_at_a_time' else 'all at once'})" \
            if client == "ours" else client
        rows.append(_row(regime, name, "initial", measure(sandbox, name, run, regime.mean_s)))
        if not regime.faults and client != "naive":
            rows.append(_row(regime, name, "rerun", measure(sandbox, name, run, regime.mean_s)))
    return rows


def run_fleet(sandbox: Sandbox, employees: int, appointments: int, setup: Setup) -> list[dict]:
    regime = Regime(f"fleet {employees}x{appointments}, 2 ms", 2, 0)
    mapping = _tenant(sandbox, employees, appointments, regime, "four_at_a_time")
    run = ours(sandbox, mapping, setup.workers)
    return [_row(regime, "ours (4 at a time)", phase, measure(sandbox, "ours", run, regime.mean_s))
            for phase in ("initial", "rerun")]


def annotate(rows: list[dict]) -> None:
    """Bound, ratios and the cores' share, from rows of one run."""
    means = {regime.name: regime.mean_s for regime in REGIMES}
    calm = {regime.name for regime in REGIMES if not regime.faults}  # its POSTs are the events, none sent twice
    writes = next((r["per_mailbox_writes"] for r in rows if r["client"] == "competent" and r["phase"] == "initial"
                   and r["regime"] in calm), None)
    competent = {(r["regime"], r["phase"]): r["wall_s"] for r in rows if r["client"] == "competent"}
    for r in rows:
        bound = bound_s(writes, means[r["regime"]]) if writes and r["phase"] == "initial" and r["regime"] in means \
            else None
        r["bound_s"] = round(bound, 3) if bound else None
        r["x_bound"] = round(r["wall_s"] / bound, 3) if bound else None
        theirs = competent.get((r["regime"], r["phase"]))
        r["vs_competent"] = round(r["wall_s"] / theirs, 3) if theirs else None
        r["cores"] = round((r["cpu_s"] + r["sandbox_cpu_s"]) / r["wall_s"], 2) if r["wall_s"] else None
        r["emulator_per_client_cpu"] = round(r["sandbox_cpu_s"] / r["cpu_s"], 2) if r["cpu_s"] else None
        r["client_cpu_ms_per_mailbox"] = round(1000 * r["cpu_s"] / r["mailboxes"], 1) if r["mailboxes"] else None


def print_table(rows: list[dict]) -> None:
    head = (f"{'regime':22} {'client':22} {'phase':7} {'wall s':>7} {'bound s':>7} {'x bound':>7} {'÷ comp.':>7} "
            f"{'HTTP':>6} {'sub-req':>7} {'429':>4} {'max/mb':>6} {'CPU s':>6} {'ms/mb':>6} {'emu CPU':>7} "
            f"{'emu/cl':>6} {'cores':>5}")
    print(head)
    print("-" * len(head))

    def num(value, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    for r in rows:
        subs = r["read_subrequests"] + r["write_subrequests"]
        print(f"{r['regime']:22} {r['client']:22} {r['phase']:7} {r['wall_s']:7.2f} {num(r['bound_s'], '.2f'):>7} "
              f"{num(r['x_bound'], '.2f'):>7} {num(r['vs_competent'], '.2f'):>7} {r['http_requests']:6} {subs:7} "
              f"{r['throttled_429']:4} {r['max_in_flight_per_mailbox']:6} {r['cpu_s']:6.2f} "
              f"{num(r['client_cpu_ms_per_mailbox'], '.1f'):>6} {r['sandbox_cpu_s']:7.2f} "
              f"{num(r['emulator_per_client_cpu'], '.2f'):>6} {num(r['cores'], '.2f'):>5}"
              f"{'  <- the 2 cores set the pace' if (r['cores'] or 0) >= CORES_BOUND else ''}")


def print_floor(rows: list[dict]) -> None:
    """Our initial sync's HTTP requests beside the floor of Graph's rules and the depth rule (benchmarks/floor.py)
    and a fifteenth of the competent client's (issue 25's target)."""
    competent = next((r for r in rows if r["client"] == "competent" and r["phase"] == "initial"
                      and r["throttled_429"] == 0), None)
    mine = [r["http_requests"] for r in rows if r["client"].startswith("ours") and r["phase"] == "initial"
            and r["throttled_429"] == 0 and not r["regime"].startswith("fleet")]
    if competent is None or not mine:
        return
    floor = request_floor(competent["per_mailbox_writes"])
    theirs = competent["http_requests"]

    def share(n: int) -> str:
        return f"{n} (1/{theirs / n:.1f})"

    print(f"\nHTTP requests, initial sync: ours {share(max(mine))}; a fifteenth of the competent client's {theirs}: "
          f"{theirs / 15:.0f}. Fewest with no lane deeper than ceil(n/4) (benchmarks/floor.py): each mailbox's calls "
          f"its own {share(floor['own'])}; no round trip added with Graph running 4 of a batch at a time "
          f"{share(floor['four_at_a_time'])}; if it ran every sub-request of a call at once {share(floor['all_at_once'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.regimes")
    parser.add_argument("--quick", action="store_true", help="5 mailboxes x 60, 150 ms and the faults only, no naive, "
                                                             "a 40 x 50 fleet: about a minute")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--skip-tls", action="store_true", help="leave out the table of a certifi-sized CA bundle")
    parser.add_argument("--regimes", default=None, help="comma-separated names to run, e.g. '400 ms'")
    args = parser.parse_args(argv)
    setup = Setup()
    regimes = list(REGIMES)
    if args.quick:
        setup = Setup(employees=5, appointments=60, fleet=(40, 50), naive=False)
        regimes = [REGIMES[1], REGIMES[3]]
    if args.regimes:
        regimes = [r for r in REGIMES if r.name in {n.strip() for n in args.regimes.split(",")}]
    setup.naive = setup.naive and not args.skip_naive
    if args.skip_fleet:
        setup.fleet = None
    load = os.getloadavg()
    started = time.perf_counter()
    print(f"{setup.employees} mailboxes x {setup.appointments} appointments per employee; load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    sandbox = Sandbox(regimes[0].latency_ms, regimes[0].jitter_ms)
    rows: list[dict] = []
    tls: list[dict] = []
    try:
        for regime in regimes:
            rows.extend(run_regime(sandbox, regime, setup, naive=setup.naive and regime.latency_ms <= 30
                                   and not regime.faults))
        if setup.fleet:
            rows.extend(run_fleet(sandbox, *setup.fleet, setup))
        if not args.skip_tls and not args.quick:
            tls = run_tls(sandbox)
    finally:
        sandbox.close()
    annotate(rows)
    print()
    print_table(rows)
    print_floor(rows)
    if tls:
        print()
        print_tls(tls)
    load = os.getloadavg()
    print(f"\nload average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; the whole run took "
          f"{time.perf_counter() - started:.0f} s")
    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    path = out / f"regimes-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({"setup": asdict(setup), "regimes": [asdict(r) for r in regimes], "rows": rows, "tls": tls},
                               indent=2, default=str))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    raise SystemExit(main())
