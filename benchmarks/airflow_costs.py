"""Airflow-facing costs: DAG parse time over `import airflow.sdk`, and the pure core at 100,000 appointments."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_PROBE = """
import json, runpy, sys, time
t0 = time.perf_counter(); import airflow.sdk; t1 = time.perf_counter()
runpy.run_path(sys.argv[1]); t2 = time.perf_counter()
print(json.dumps({"sdk_ms": (t1 - t0) * 1000, "dag_ms": (t2 - t1) * 1000,
                  "msal": "msal" in sys.modules, "requests": "requests" in sys.modules}))
"""

PLAN_PROBE = """
import datetime as dt, json, resource, sys, time
from oh_outlook_provider.openhandwerk.api import parse_appointment
from oh_outlook_provider.sync.desired import desired_state
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.plan import ExistingEvent, plan_mailbox
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.tags import FINGERPRINT_PROP, KEY_PROP, SOURCE_PROP

def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss across fork and exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# Shaped like a real run: records stream in (as openHandwerk pages do) and are parsed on the
# way into the desired state; each mailbox's events are read, planned and dropped in turn.
N, EMPLOYEES = int(sys.argv[1]), 100
base = dt.datetime(2026, 3, 2, 7)

def records():
    for i in range(N):
        start = base + dt.timedelta(hours=(i * 7) % (24 * 365))
        yield {"id": f"T-{i}", "title": f"Wartung Gastherme Größer {i}", "start": start.isoformat(),
               "end": (start + dt.timedelta(hours=2)).isoformat(), "employees": [f"M-{i % EMPLOYEES}"],
               "address": {"street": "Hauptstraße", "houseNumber": "1", "zip": "50667", "city": "Köln"},
               "description": "Bitte klingeln."}

window = Window(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
mapping = {f"M-{e}": f"user-{e}" for e in range(EMPLOYEES)}
g0 = time.process_time()
for r in records():
    pass
g1 = time.process_time()
for r in records():
    parse_appointment(r)
g2 = time.process_time()
parse = (g2 - g1) - (g1 - g0)
c0 = time.process_time()
state = desired_state((parse_appointment(r) for r in records()), mapping, window, "openhandwerk:4711", RenderOptions())
c1 = time.process_time()
read = plan = 0.0
unchanged = 0
for mailbox, events in state.by_mailbox.items():
    graph_json = [{"id": f"ev-{d.key.appointment_id}", **d.fields, "singleValueExtendedProperties": [
        {"id": SOURCE_PROP, "value": d.key.source}, {"id": KEY_PROP, "value": str(d.key)},
        {"id": FINGERPRINT_PROP, "value": fingerprint.encode(fingerprint.stamp(d.texts))}]} for d in events]
    for d in events:
        d.__dict__.pop("_rendered", None)  # what was built to fake Graph's answer is not kept by a real run
    r0 = time.process_time()
    existing = [ExistingEvent.from_graph(e) for e in graph_json]
    r1 = time.process_time()
    unchanged += plan_mailbox(events, existing, source="openhandwerk:4711").unchanged
    r2 = time.process_time()
    read += r1 - r0
    plan += r2 - r1
desired = (c1 - c0) - (g2 - g0)  # the same generator and parser ran inside the timed pass
print(json.dumps({"appointments": N, "unchanged": unchanged, "parse_cpu_s": parse, "desired_cpu_s": desired,
                  "read_back_cpu_s": read, "plan_cpu_s": plan, "plan_total_cpu_s": desired + plan,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def _probe(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_all(repeats: int = 3) -> dict:
    dags = {}
    for path in sorted((ROOT / "dags").glob("*.py")):
        runs = [_probe(IMPORT_PROBE, str(path)) for _ in range(repeats)]
        dags[path.name] = {"added_ms": round(statistics.median(r["dag_ms"] for r in runs), 1),
                           "sdk_ms": round(statistics.median(r["sdk_ms"] for r in runs), 1),
                           "imports_msal": any(r["msal"] for r in runs),
                           "imports_requests": any(r["requests"] for r in runs)}
    return {"dag_imports": dags, "planning_100k": _probe(PLAN_PROBE, "100000")}


def print_costs(costs: dict) -> None:
    print("\nDAG files: time added to `import airflow.sdk` (median of 3, target < 150 ms)")
    for name, info in costs["dag_imports"].items():
        print(f"  {name:36} +{info['added_ms']:6.1f} ms  (sdk {info['sdk_ms']:.0f} ms)  msal: "
              f"{'yes' if info['imports_msal'] else 'no'}  requests: {'yes' if info['imports_requests'] else 'no'}")
    p = costs["planning_100k"]
    print(f"\nPure core at {p['appointments']:,} appointments (100 mailboxes, all unchanged; target < 2 s CPU):")
    print(f"  planning {p['plan_total_cpu_s']:.2f} s CPU (desired state {p['desired_cpu_s']:.2f} s + plan "
          f"{p['plan_cpu_s']:.2f} s); parsing openHandwerk records {p['parse_cpu_s']:.2f} s; decoding Graph's "
          f"answers {p['read_back_cpu_s']:.2f} s; "
          f"peak RSS {p['peak_rss_mb']:.0f} MB (target < 300 MB)")
