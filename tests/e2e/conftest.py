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
# What the stack suite proves on the newest line through Airflow's own services (a run of it there would add a minute
# of CLI start-ups to `make test`); on the older lines, where no stack runs, these `airflow` CLI runs are the proof
# (devtools/matrix.py E2E). Named on the command line, they run on every line.
PROVEN_BY_THE_STACK = {
    # tests/stack/test_production_path.py::test_the_dag_processor_parses_the_four_dags: the DAG processor finds the four
    # DAGs and no import error (and in-process test_every_dag_says_what_it_does_...: a DagBag of five, none failing).
    "test_every_dag_parses_without_import_errors",
    # test_the_scheduler_runs_shards_on_both_workers_within_the_graph_pool: six shards on two Celery workers, one
    # openHandwerk read per run, the two rejected records counted once, calendars exactly openHandwerk's raw records,
    # no warning but the rejected records' (the XComs' details in tests/integration/test_appointments_operator.py).
    "test_the_sync_dag_fills_the_calendars_in_shards_from_one_read",
    # tests/stack/test_fleet.py: 31 tenants through the scheduler on both workers, two broken ones failing alone.
    "test_the_fleet_dag_syncs_each_tenant_in_its_own_tasks_and_fails_only_the_broken_one",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not AIRFLOW_V_3_3_PLUS:
        return
    named = " ".join(config.args)
    proven = [item for item in items if item.path.parent == Path(__file__).parent
              and item.originalname in PROVEN_BY_THE_STACK and item.originalname not in named]
    if proven:
        config.hook.pytest_deselected(items=proven)
        items[:] = [item for item in items if item not in proven]


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
