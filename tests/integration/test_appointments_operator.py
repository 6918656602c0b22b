"""OpenHandwerkAppointmentsOperator: the run's one read, written once and handed to the shards."""

from __future__ import annotations

import datetime as dt

import pytest

from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator, rejected_report
from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator
from tests.integration.sync_helpers import mapping_for, ours

START = dt.datetime(2026, 3, 13, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 19, tzinfo=dt.UTC)


@pytest.fixture
def env(sandbox, monkeypatch, tmp_path):
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OH_OUTLOOK_SNAPSHOT_BASE", f"file://{tmp_path}")
    return sandbox


def test_the_read_is_stored_once_and_a_shard_syncs_from_it(env, tmp_path):
    op = OpenHandwerkAppointmentsOperator(task_id="read_appointments", window_start=START.isoformat(),
                                          window_end=END.isoformat())
    reads = env.state.stats()["oh_window_reads"]
    descriptor = op.execute({"run_id": "manual__2026-03-20T10:00:00+00:00", "dag": None})
    assert env.state.stats()["oh_window_reads"] - reads == 1
    assert [p.name for p in tmp_path.rglob("*.jsonl.gz")] == ["manual__2026-03-20T10_00_00_00_00.jsonl.gz"]
    assert descriptor["appointments"] > 30 and descriptor["rejected_total"] == 2
    assert descriptor["window"] == {"start": START.isoformat(), "end": END.isoformat()}
    assert any("T-BAD-2" in line for line in rejected_report(descriptor))

    mapping = mapping_for(env)
    # The shard's own window arguments are ignored: the read's window is the one its file covers.
    summary = Office365CalendarSyncOperator(task_id="s", mapping=mapping, appointments=descriptor, past="1",
                                            future="1").execute({"run_id": "manual__x"})
    assert env.state.stats()["oh_window_reads"] - reads == 1  # the shard did not read the window again
    assert summary["window"] == descriptor["window"]
    assert summary["totals"]["create"] == len(ours(env, None)) > 0
    assert not [r for r in summary["rejected"] if not r.get("mailbox")]  # reported by the read, not again here


def test_old_files_of_the_dag_are_pruned_by_a_later_read(env, tmp_path):
    op = OpenHandwerkAppointmentsOperator(task_id="read_appointments", window_start=START.isoformat(),
                                          window_end=END.isoformat(), keep_for=dt.timedelta(0))
    first = op.execute({"run_id": "run_1"})
    second = op.execute({"run_id": "run_2"})
    files = sorted(p.name for p in tmp_path.rglob("*.jsonl.gz"))
    assert files == ["run_2.jsonl.gz"] and first["path"] != second["path"]
