"""The distributed stack (PostgreSQL, Redis, Celery workers, scheduler, triggerer) with the sandbox as tenant.

Started once per session by the project's own launcher, in its own database and Redis database;
driven only through Airflow's public REST API. Skipped with a one-line reason when PostgreSQL or
Redis cannot be reached - except under CI=true, where that fails the run.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from devtools.stack import AirflowApi, Stack, StackSettings, drop_database, unreachable
from oh_outlook_provider.sync.tags import KEY_PROP, SOURCE_PROP  # the tag names only: the checker's logic is its own

STACK_DB = "oh_outlook_stack_test"  # the suite's own database: created fresh, dropped at the end
BROKER_DB = "15"  # a Redis database of its own, so a `make stack` running beside it keeps its tasks
SOURCE = "openhandwerk:4711"
CANCELLED = {"cancelled", "canceled", "storniert", "abgesagt"}
BERLIN = ZoneInfo("Europe/Berlin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_settings(tmp_path) -> StackSettings:
    base = StackSettings.from_env()
    db = make_url(base.sql_alchemy_conn).set(database=STACK_DB).render_as_string(hide_password=False)
    broker = make_url(base.broker_url).set(database=BROKER_DB).render_as_string(hide_password=False)
    return StackSettings.from_env(
        home=tmp_path, api_port=_free_port(), sql_alchemy_conn=db, broker_url=broker,
        result_backend="db+" + db.replace("+psycopg2", ""),
        extra_env={
            # A dead worker's task is found after 15 s, not 5 min, and retried 3 s later.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
            "OH_OUTLOOK_RETRY_DELAY_SECONDS": "3",
            "OH_OUTLOOK_EXPIRY_POKE_SECONDS": "3",
        },
    )


@pytest.fixture(scope="package")  # stopped when tests/stack ends: it must not slow the tests after it
def stack(shared_sandbox, tmp_path_factory) -> Iterator[Stack]:
    settings = stack_settings(tmp_path_factory.mktemp("stack"))
    reason = unreachable(settings)
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the stack suite must run in CI: {reason}")
        pytest.skip(reason)
    running = Stack(settings, {"office365_default": shared_sandbox.office365_connection(),
                               "openhandwerk_default": shared_sandbox.openhandwerk_connection()})
    running.start(fresh=True)
    try:
        yield running
    finally:
        running.stop()
        drop_database(settings)


@pytest.fixture
def api(stack) -> AirflowApi:
    return stack.api


@pytest.fixture
def tenant(shared_sandbox):
    """Fresh seed data around today (the rolling window has work), calendars empty."""
    shared_sandbox.state.reload(seed=42, base_date=dt.date.today(), employees=12, appointments_per_employee=12,
                                latency_ms=0.0, jitter_ms=0.0, faults=None, limits=None, access_policy=True)
    return shared_sandbox


# ---------------------------------------------------------------------- driving Airflow over REST
def trigger(api: AirflowApi, dag_id: str, conf: dict | None = None) -> str:
    api.patch(f"dags/{dag_id}", {"is_paused": False})
    return api.post(f"dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})["dag_run_id"]


def wait_run(api: AirflowApi, dag_id: str, run_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"dags/{dag_id}/dagRuns/{run_id}")
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(1)
    raise AssertionError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f}s: "
                         f"{[(t['task_id'], t['map_index'], t['state']) for t in task_instances(api, dag_id, run_id)]}")


def settle(api: AirflowApi, dag_id: str, since: dt.datetime, timeout: float = 300) -> list[dict]:
    """Wait until no run of the DAG is queued or running, then pause it, so that no scheduled run
    (the scheduler starts the last cron tick on unpausing, when it is recent) writes during the next
    scenario. Returns the runs created since `since`.

    The scheduler may create a cron tick's run between the last look and the pause (a fleet test crossing
    23:45 UTC left one queued, and it ran with the next scenario's registry when that unpaused the DAG):
    so the runs are looked at again once paused, and a run found then is let run to its end first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.get(f"dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
        if not [r for r in runs if r["state"] in ("queued", "running")]:
            api.patch(f"dags/{dag_id}", {"is_paused": True})
            time.sleep(1)
            runs = api.get(f"dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
            if not [r for r in runs if r["state"] in ("queued", "running")]:
                return [r for r in runs if r["queued_at"] and dt.datetime.fromisoformat(r["queued_at"]) >= since]
            api.patch(f"dags/{dag_id}", {"is_paused": False})  # created meanwhile: it runs now, not later
        time.sleep(1)
    raise AssertionError(f"runs of {dag_id} still active after {timeout:.0f}s")


def task_instances(api: AirflowApi, dag_id: str, run_id: str) -> list[dict]:
    return api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]


def xcom(api: AirflowApi, dag_id: str, run_id: str, task_id: str, map_index: int = -1):
    return api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                   map_index=map_index, deserialize=True)["value"]


def task_log(api: AirflowApi, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
    answer = api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                     map_index=map_index, full_content=True)
    content = answer["content"]
    return "\n".join(str(line.get("event", "")) if isinstance(line, dict) else str(line) for line in content)


def log_warnings(api: AirflowApi, dag_id: str, run_id: str) -> list[tuple[str, str]]:
    """(task, message) of every WARNING or ERROR line in the run's task logs, as the log view shows them."""
    found = []
    for ti in task_instances(api, dag_id, run_id):
        answer = api.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
                         map_index=ti["map_index"], full_content=True)
        found += [(ti["task_id"], str(line.get("event"))) for line in answer["content"]
                  if isinstance(line, dict) and str(line.get("level", "")).lower() in ("warning", "error", "critical")]
    return found


def overlap(intervals: list[tuple[str, str]]) -> int:
    """The most intervals running at one moment."""
    points = sorted([(dt.datetime.fromisoformat(s), 1) for s, _ in intervals]
                    + [(dt.datetime.fromisoformat(e), -1) for _, e in intervals])
    running = peak = 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    return peak


# ---------------------------------------------------------------------- an independent checker
def _start(record: dict) -> dt.datetime | None:
    """The start instant, read from openHandwerk's raw record (not through the sync's parser)."""
    raw, end = record.get("start"), record.get("end")
    # An all-day end is the last day, inclusive: a one-day appointment ends on the day it starts.
    if not isinstance(raw, str) or not isinstance(end, str) or end < raw:
        return None
    if record.get("allDay"):
        return dt.datetime.combine(dt.date.fromisoformat(raw[:10]), dt.time(), BERLIN)
    return dt.datetime.fromisoformat(raw).replace(tzinfo=BERLIN)


def expected_events(state, mapping: dict, windows: list[tuple[dt.datetime, dt.datetime]],
                    source: str = SOURCE) -> dict:
    """(user id, key) -> (subject, start instant) of every event the calendars must hold after
    syncing `windows`: live appointments starting in a window, once per mapped employee; `source`
    is the openHandwerk account's tag (a fleet tenant's: f"openhandwerk:{state.oh_id_kn}")."""
    wanted = {}
    for record in state.appointments.values():
        start = _start(record)
        if start is None or str(record.get("status", "")).lower() in CANCELLED:
            continue
        if not any(lo <= start < hi for lo, hi in windows):
            continue
        for employee in record.get("employees") or []:
            if employee in mapping:
                key = (mapping[employee]["user_id"], f"{source}|{record['id']}|{employee}")
                wanted[key] = (record["title"].strip(), start)
    return wanted


def assert_exact(state, mapping: dict, windows: list[tuple[dt.datetime, dt.datetime]],
                 foreign: dict | None = None, source: str = SOURCE) -> None:
    """Each wanted event once, with its subject and start; nothing else of ours; foreign events as
    they were; no invitation mailed."""
    wanted = expected_events(state, mapping, windows, source)
    with state.lock:
        ours = [(user, event) for user, events in state.events.items() for event in events.values()
                if event["_props"].get(SOURCE_PROP) == source]
        copies = Counter((user, event["_props"].get(KEY_PROP)) for user, event in ours)
        assert [k for k, n in copies.items() if n > 1] == [], "duplicates"
        assert set(copies) == set(wanted), (sorted(set(wanted) - set(copies))[:5], sorted(set(copies) - set(wanted))[:5])
        for user, event in ours:
            subject, start = wanted[(user, event["_props"].get(KEY_PROP))]
            assert event["subject"] == subject and event["_start_utc"] == start, event["_props"].get(KEY_PROP)
        for (user, event_id), before in (foreign or {}).items():
            assert state.events[user][event_id] == before, f"foreign event {event_id} changed"
    assert state.stats()["invitations_sent"] == 0
    assert wanted, "the check needs appointments to compare"


def foreign_events(state) -> dict:
    with state.lock:
        return {(user, e["id"]): copy.deepcopy(e) for user, events in state.events.items()
                for e in events.values() if e["_props"].get(SOURCE_PROP) != SOURCE}
