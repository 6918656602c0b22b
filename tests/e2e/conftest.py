"""Real Airflow: a migrated SQLite metadata DB, the repository's dags/, the sandbox as tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.demo import airflow_env, prepare_home
from oh_outlook_provider.version_compat import AIRFLOW_V_3_3_PLUS

ROOT = Path(__file__).resolve().parents[2]
# The Python form of Airflow 3.0 to 3.2 (hooks/connection_form.py) in a browser; from 3.3 on the form is the declarative
# one, which the stack's browser suite drives (tests/stack/test_ui_browser.py), so the file is not collected there.
collect_ignore = ["test_legacy_form_browser.py"] if AIRFLOW_V_3_3_PLUS else []


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory, shared_sandbox) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home, shared_sandbox, ROOT / "dags")
    prepare_home(home, env, home / "cli.log")
    yield home


@pytest.fixture
def today_sandbox(shared_sandbox):
    """Fresh seed data around today, so the rolling window of the real DAG has work."""
    shared_sandbox.state.reload(seed=42, base_date=dt.date.today(), employees=12, appointments_per_employee=12,
                                latency_ms=0.0, jitter_ms=0.0, faults=None, limits=None, access_policy=True)
    return shared_sandbox
