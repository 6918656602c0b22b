"""`make test-matrix`: the provider on every older Airflow 3 line, each in a fresh environment.

The newest line (the one pyproject's `test` extra installs, 3.3) runs the whole suite through
`make test`; this runs, for each older line, a virtual environment made with uv (its download
cache is shared between lines, so a second run installs in seconds), Airflow with the FAB
provider (what an older UI needs to render a provider's connection form; managed services ship
it), this checkout editable with its `devtools` and `check` extras, then: the provider is
discovered, the unit tests, and the sandbox integration and emulator tests (the end-to-end runs
through the Airflow CLI with `--suites unit,integration,e2e`). A table of lines, versions, times
and results is printed.

Usage: python -m devtools.matrix [--lines 3.0 3.1 3.2] [--suites unit,integration,e2e]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
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
SUITES: dict[str, list[str]] = {
    "unit": ["tests/unit"],
    # The emulator's own tests; the stack launcher's (tests/devtools/test_*.py) concern the newest line only,
    # where `make test` runs them: the stack's PostgreSQL/Celery extras are not installed on the older lines.
    "integration": ["tests/integration", "tests/devtools/sandbox"],
    "e2e": ["tests/e2e"],
}


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
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and self.failed == 0 and self.errors == 0 and self.passed > 0


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


def run_tests(python: Path, paths: list[str], result: Result) -> None:
    """pytest over `paths` without the stack and browser suites; counts from pytest's closing line."""
    started = time.monotonic()
    out = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-m", "not stack and not browser",
                          *paths], capture_output=True, text=True, cwd=ROOT)
    result.test_s = time.monotonic() - started
    closing = (out.stdout.strip().splitlines() or [""])[-1]
    for attr, count in counts(closing).items():
        setattr(result, attr, count)
    if out.returncode not in (0, 1):
        result.note = result.note or f"pytest exit {out.returncode}: {closing[-120:]}"
    if out.returncode != 0:
        failures = [line for line in out.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        print("\n".join(failures[:30]) or out.stdout[-3000:], file=sys.stderr)


def table(results: list[Result]) -> str:
    head = f"{'line':5} {'airflow':8} {'install s':>9} {'tests s':>8} {'passed':>7} {'failed':>7} {'errors':>7}  result"
    rows = [head, "-" * len(head)]
    for r in results:
        verdict = "ok" if r.ok else (r.note or "FAILED")
        rows.append(f"{r.line:5} {r.version:8} {r.install_s:9.1f} {r.test_s:8.1f} {r.passed:7} {r.failed:7} "
                    f"{r.errors:7}  {verdict}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.matrix", description=__doc__.split("\n")[0])
    parser.add_argument("--lines", nargs="*", default=list(LINES), choices=list(LINES))
    parser.add_argument("--suites", default="unit,integration", help="comma-separated: " + ",".join(SUITES))
    parser.add_argument("--home", type=Path, default=ROOT / ".matrix")
    args = parser.parse_args(argv)
    paths = [p for suite in args.suites.split(",") for p in SUITES[suite.strip()]]
    args.home.mkdir(parents=True, exist_ok=True)
    results = []
    for line in args.lines:
        result = Result(line, LINES[line])
        print(f"== Airflow {result.version}: installing", flush=True)
        started = time.monotonic()
        try:
            python = install(line, result.version, args.home)
        except subprocess.CalledProcessError as exc:
            result.note = f"install failed (exit {exc.returncode})"
            results.append(result)
            continue
        result.install_s = time.monotonic() - started
        result.note = discovered(python)
        if not result.note:
            print(f"== Airflow {result.version}: {' '.join(paths)}", flush=True)
            run_tests(python, paths, result)
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
    print("\nAirflow version matrix (the newest line, 3.3, runs in `make test`):\n" + table(results))
    total = sum(r.passed for r in results)
    failed = sum(r.failed + r.errors for r in results) + sum(1 for r in results if r.note)
    print(f"matrix: {total} passed, {failed} failed")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
