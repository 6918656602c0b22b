"""`make test-matrix`: the provider on every older Airflow 3 line, each in a fresh environment.

The newest line (the one pyproject's `test` extra installs, 3.3) runs the whole suite through
`make test`; this runs, for each older line, a virtual environment made with uv (its download
cache is shared between lines, so a second run installs in seconds), Airflow with the FAB
provider (what an older UI needs to render a provider's connection form; managed services ship
it), this checkout editable with its `devtools` and `check` extras, then, in one pytest process:
the provider is discovered, the unit tests, the sandbox integration and emulator tests under one
of the two Graph behaviour bundles (tests/conftest.py BEHAVIOURS; `make test` runs both, and what
differs between them is Microsoft's, not Airflow's), the `dags test` runs of the four DAGs with
discovery and the connection Test cases (E2E), and on the oldest line the connection form in a
browser (tests/e2e/test_legacy_form_browser.py). A table of lines, versions, times and results
is printed.

Usage: python -m devtools.matrix [--lines 3.0 3.1 3.2] [--suites unit,integration,e2e,browser]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from devtools import ROOT

# The newest release of each older line that the package index serves (checked 30 Nov 2026), and the day it
# was published there: Airflow documents installing with its constraint files, which this machine cannot fetch
# (only the package registries are reachable), so each line resolves its dependencies as of that day
# (uv --exclude-newer), which is what its constraints pinned. Without it 3.0.6 breaks: universal-pathlib 0.3
# ("detected protocol file which is incompatible with ObjectStoragePath") and a newer FastAPI/pydantic in the
# in-process execution API of `dags test` ("Input should be a valid dictionary").
LINES: dict[str, str] = {"3.0": "3.0.6", "3.1": "3.1.8", "3.2": "3.2.2"}
RELEASED: dict[str, str] = {"3.0": "2025-08-30", "3.1": "2026-03-12", "3.2": "2026-05-30"}
# The end-to-end tests that meet Airflow itself: discovery (`dags list`), the four DAGs run with `dags test`
# (mapping, sync with shards, backfill day, the deferrable expiry sensor), the form's Test through the line's API
# with the provider's plugin, `airflow connections test` and the setup DAG. The rest of tests/e2e checks files
# (compose, descriptions, imports) or the expiry rotation, which `make test` covers on the newest line. On the newest
# line the stack suite proves discovery and the sync DAG instead (tests/e2e/conftest.py PROVEN_BY_THE_STACK): these
# are the older lines' only proof of them.
E2E = [f"tests/e2e/test_airflow.py::test_{name}" for name in (
    "every_dag_parses_without_import_errors", "the_user_mapping_dag_classifies_every_employee",
    "the_sync_dag_fills_the_calendars_in_shards_from_one_read",
    "backfill_run_writes_exactly_that_days_appointments",
    "deferrable_expiry_sensor_reads_the_connection_in_the_trigger_and_resumes",
    "the_forms_test_button_works_for_a_stored_connection",
    "connections_test_and_the_setup_dag_name_the_same_missing_step[calendars_read]",
    "the_fleet_dag_syncs_each_tenant_in_its_own_tasks_and_fails_only_the_broken_one")]
SUITES: dict[str, list[str]] = {
    "unit": ["tests/unit"],
    # The emulator's own tests; the stack launcher's (tests/devtools/test_*.py) concern the newest line only,
    # where `make test` runs them: the stack's PostgreSQL/Celery extras are not installed on the older lines.
    "integration": ["tests/integration", "tests/devtools/sandbox"],
    "e2e": E2E,
    "browser": ["tests/e2e/test_legacy_form_browser.py"],
}
# The browser check of the Python connection form runs on the oldest line only (about a minute); 3.1 and 3.2 render
# the same form from the same hook methods.
BROWSER_LINES = {"3.0"}
BROWSER_TEST = "test_the_add_form_shows_our_fields_and_the_saved_connection_tests_ok"
# One of tests/conftest.py's Graph behaviour bundles for the sandbox tests on the older lines.
BEHAVIOUR = "graph-4-at-a-time"


@dataclass
class Result:
    line: str
    version: str
    install_s: float = 0.0
    test_s: float = 0.0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    browser: str = "-"
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and self.failed == 0 and self.errors == 0 and self.passed > 0 and self.browser != "failed"


def _uv() -> list[str]:
    """uv from PATH, else the one the `check` extra installs into this environment."""
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    return [found]


def install(line: str, version: str, home: Path) -> Path:
    """A fresh venv for `line` under `home`; returns its python. Raises CalledProcessError."""
    venv = home / line
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([*_uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    requirements = [f"apache-airflow[fab]=={version}", "-e", f"{ROOT}[devtools,check]"]
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    subprocess.run([*_uv(), "pip", "install", "-q", "--exclude-newer", RELEASED[line], *requirements], check=True, env=env)
    return python


def discovered(python: Path) -> str:
    """Empty when Airflow's ProvidersManager finds the provider and both hooks, else why not."""
    code = ("from airflow.providers_manager import ProvidersManager as P; p = P(); "
            "print('oh-outlook-provider' in p.providers, sorted(set(p.hooks) & {'office365', 'openhandwerk'}))")
    out = subprocess.run([str(python), "-W", "ignore", "-c", code], capture_output=True, text=True, cwd=ROOT)
    last = (out.stdout.strip().splitlines() or [""])[-1]
    return "" if last == "True ['office365', 'openhandwerk']" else f"provider not discovered: {last or out.stderr[-300:]}"


def counts(closing: str) -> dict[str, int]:
    """passed/failed/errors/skipped from pytest's closing line ("3 failed, 601 passed, 2 errors in 60s")."""
    found = {}
    for count, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", closing):
        found["errors" if word.startswith("error") else word] = int(count)
    return found


def run_tests(python: Path, paths: list[str], result: Result, browser: bool = False) -> None:
    """One pytest process over `paths` (the stack suite never, the browser check only if `browser`), the sandbox
    tests under one Graph behaviour bundle; counts from pytest's closing line, the browser check's from its report."""
    started = time.monotonic()
    report = python.parents[1] / "pytest-report.xml"  # in the line's environment
    env = {**os.environ, "OH_TEST_BEHAVIOURS": BEHAVIOUR, "OH_PLAYWRIGHT_PYTHON": sys.executable}
    out = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}",
                          f"--basetemp={python.parents[1] / 'pytest-tmp'}",  # lines run side by side
                          "-m", "not stack" if browser else "not stack and not browser", *paths],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    result.test_s = time.monotonic() - started
    closing = (out.stdout.strip().splitlines() or [""])[-1]
    for attr, count in counts(closing).items():
        setattr(result, attr, count)
    if browser:
        result.browser = browser_verdict(report)
    if out.returncode not in (0, 1):
        result.note = result.note or f"pytest exit {out.returncode}: {closing[-120:]}"
    if out.returncode != 0:
        failures = [line for line in out.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        print("\n".join(failures[:30]) or out.stdout[-3000:], file=sys.stderr)


def browser_verdict(report: Path) -> str:
    """"ok 48s", "failed", "skipped" or "not run": the browser check's outcome in pytest's JUnit XML report."""
    import xml.etree.ElementTree as ET

    try:
        cases = ET.parse(report).getroot().iter("testcase")
    except (OSError, ET.ParseError):
        return "not run"
    for case in cases:
        if case.get("name") == BROWSER_TEST:
            if case.find("skipped") is not None:
                return "skipped"
            if case.find("failure") is not None or case.find("error") is not None:
                return "failed"
            return f"ok {float(case.get('time', 0)):.0f}s"
    return "not run"


def table(results: list[Result]) -> str:
    head = (f"{'line':5} {'airflow':8} {'install s':>9} {'tests s':>8} {'passed':>7} {'failed':>7} {'errors':>7} "
            f"{'browser':>9}  result")
    rows = [head, "-" * len(head)]
    for r in results:
        verdict = "ok" if r.ok else (r.note or "FAILED")
        rows.append(f"{r.line:5} {r.version:8} {r.install_s:9.1f} {r.test_s:8.1f} {r.passed:7} {r.failed:7} "
                    f"{r.errors:7} {r.browser:>9}  {verdict}")
    return "\n".join(rows)


_INSTALLING = threading.Lock()


def run_line(line: str, suites: list[str], home: Path) -> Result:
    """Install one line, check discovery, run its tests; the line's Result (a failed install is one)."""
    result = Result(line, LINES[line])
    try:
        with _INSTALLING:  # one at a time: each builds this checkout's editable install in the checkout
            print(f"== Airflow {result.version}: installing", flush=True)
            started = time.monotonic()
            python = install(line, result.version, home)
    except subprocess.CalledProcessError as exc:
        result.note = f"install failed (exit {exc.returncode})"
        return result
    result.install_s = time.monotonic() - started
    result.note = discovered(python)
    browser = "browser" in suites and line in BROWSER_LINES
    paths = [p for suite in suites if suite != "browser" or browser for p in SUITES[suite]]
    if not result.note and paths:
        print(f"== Airflow {result.version}: {', '.join(suites)} ({len(paths)} paths)", flush=True)
        run_tests(python, paths, result, browser)
    print(table([result]).splitlines()[-1], flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.matrix", description=__doc__.split("\n")[0])
    parser.add_argument("--lines", nargs="*", default=list(LINES), choices=list(LINES))
    parser.add_argument("--suites", default=",".join(SUITES), help="comma-separated: " + ",".join(SUITES))
    parser.add_argument("--home", type=Path, default=ROOT / ".matrix")
    # All three lines at once: a line's pytest waits much of its time on its Airflow CLI subprocesses and the sandbox,
    # so on this machine's two cores (30 Nov 2026) the matrix took 10.3 min with three at a time, 13.8 with two.
    parser.add_argument("--jobs", type=int, default=len(LINES), help="lines tested at the same time")
    args = parser.parse_args(argv)
    suites = [suite.strip() for suite in args.suites.split(",")]
    args.home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda line: run_line(line, suites, args.home), args.lines))
    wall = time.monotonic() - started
    print("\nAirflow version matrix (the newest line, 3.3, runs in `make test`):\n" + table(results))
    total = sum(r.passed for r in results)
    failed = sum(r.failed + r.errors for r in results) + sum(1 for r in results if r.note)
    print(f"matrix: {total} passed, {failed} failed, {wall / 60:.1f} min ({args.jobs} lines at a time)")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
