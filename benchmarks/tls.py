"""`make bench`'s TLS table: what a CA bundle the size of certifi's costs a run, with one SSLContext per CA
source (hooks/http.tls_context) against a context and a bundle read per connection (requests' own way).

The sandbox's CA file holds one certificate, so every other figure of `make bench` leaves out what Graph's
real certificate check costs: with `verify=True` requests reads certifi's bundle (~150 CA certificates,
30-40 ms of CPU) for every new TLS connection, and a run opens one per mailbox read at once plus the token's
and openHandwerk's. Here the hooks trust a bundle of certifi's certificates plus the sandbox's CA, so the
handshakes succeed and the load costs what it costs in production. Each run starts with no context
remembered, as a task's fresh process does. Both ways run in this process, one after the other.
"""

from __future__ import annotations

import ssl
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.run import WINDOW, Sandbox
from oh_outlook_provider.hooks import http
from oh_outlook_provider.runners.calendar_sync import CalendarSync, SyncOptions
from oh_outlook_provider.runners.user_mapping import run_user_mapping
from oh_outlook_provider.sync.tags import source_id

CASES = ((200, 100), (5, 10))  # a large tenant's rerun; a fleet tenant's (200 tenants x 5 x 10, issue 24)


@contextmanager
def counted_loads() -> Iterator[list[float]]:
    """CPU seconds of each CA load (ssl.SSLContext.load_verify_locations) made inside, in its own thread."""
    loads: list[float] = []
    load = ssl.SSLContext.load_verify_locations

    def timed(self, *args, **kwargs):
        started = time.thread_time()
        try:
            return load(self, *args, **kwargs)
        finally:
            loads.append(time.thread_time() - started)

    ssl.SSLContext.load_verify_locations = timed
    try:
        yield loads
    finally:
        ssl.SSLContext.load_verify_locations = load


@contextmanager
def per_connection() -> Iterator[None]:
    """requests' own way: no shared context, so urllib3 builds one and reads the bundle per connection."""
    shared = http.tls_context
    http.tls_context = lambda verify: None
    try:
        yield
    finally:
        http.tls_context = shared


def big_bundle(sandbox: Sandbox, folder: Path) -> Path:
    """certifi's bundle and the sandbox's CA in one file (what `verify=True` reads, plus what the sandbox needs)."""
    import certifi

    path = folder / "bundle.pem"
    path.write_text(Path(certifi.where()).read_text() + "\n" + Path(sandbox.settings["ca_bundle"]).read_text())
    return path


def sync_run(sandbox: Sandbox, mapping: dict, bundle: Path) -> Callable[[], dict]:
    def run() -> dict:
        graph, oh = sandbox.hooks()
        for hook in (graph, oh):
            hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "verify": str(bundle)})
        summary = CalendarSync(graph, oh, mapping, SyncOptions(window=WINDOW, source=source_id(oh.settings.id_kn),
                                                                zone=oh.settings.timezone, max_workers=32,
                                                                salt=uuid.uuid4().hex)).run()
        return summary["totals"]
    return run


def measure(run: Callable[[], dict], rounds: int) -> dict:
    """The median round of `rounds` reruns: client CPU, CA loads and their CPU."""
    samples = []
    for _ in range(rounds):
        http._CONTEXTS.clear()  # a task's fresh process remembers none
        with counted_loads() as loads:
            started = time.process_time()
            run()
            cpu = time.process_time() - started
        samples.append({"cpu_s": cpu, "loads": len(loads), "load_cpu_s": sum(loads)})
    samples.sort(key=lambda s: s["cpu_s"])
    return samples[len(samples) // 2]


def run_tls(sandbox: Sandbox, rounds: int = 3) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="oh-bench-tls-") as folder:
        bundle = big_bundle(sandbox, Path(folder))
        for employees, appointments in CASES:
            sandbox.reload(employees, appointments, 2, 0)
            graph, oh = sandbox.hooks()
            mapping = run_user_mapping(graph, oh, verify_mailboxes=False)[0].mapping()
            run = sync_run(sandbox, mapping, bundle)
            run()  # the initial sync: what follows are reruns
            shared = measure(run, rounds)
            with per_connection():
                theirs = measure(run, rounds)
            for name, row in (("one context per CA source", shared), ("a context per connection", theirs)):
                rows.append({"case": f"{employees}x{appointments} rerun", "way": name, "mailboxes": employees,
                             **row, "vs_per_connection": round(row["cpu_s"] / theirs["cpu_s"], 2)})
    return rows


def print_tls(rows: list[dict]) -> None:
    head = (f"{'rerun, certifi-sized CA bundle':32} {'TLS contexts':27} {'CPU s':>6} {'ms/mb':>6} {'CA loads':>8} "
            f"{'load CPU s':>10} {'÷ per conn.':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['case']:32} {r['way']:27} {r['cpu_s']:6.2f} {1000 * r['cpu_s'] / r['mailboxes']:6.1f} "
              f"{r['loads']:8} {r['load_cpu_s']:10.2f} {r['vs_per_connection']:11.2f}")


def main() -> int:
    sandbox = Sandbox(2, 0)
    try:
        rows = run_tls(sandbox)
    finally:
        sandbox.close()
    print_tls(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
