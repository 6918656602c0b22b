"""The run's appointment file: written once, streamed by every shard, pruned after its days."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk import ObjectStoragePath

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.runners import appointments as snapshots
from oh_outlook_provider.sync.models import Appointment, Rejected, Window

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = Window(dt.datetime(2026, 3, 1, tzinfo=BERLIN), dt.datetime(2026, 3, 8, tzinfo=BERLIN))


def _appointments(n: int) -> list[Appointment]:
    start = dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN)
    return [Appointment(f"T-{i}", f"Termin {i}", start + dt.timedelta(minutes=i), start + dt.timedelta(minutes=i + 30),
                        employee_ids=(f"M-{i % 7}",)) for i in range(n)]


def test_write_then_read_gives_the_appointments_and_counts_rejected_once(tmp_path):
    path = snapshots.run_path(ObjectStoragePath(f"file://{tmp_path}"), "dag", "manual__2026-03-01T00:00:00+00:00")
    records = [*_appointments(3), Rejected("T-BAD", "start is missing"), *_appointments(5)[3:]]
    descriptor = snapshots.write(path, WINDOW, records)
    assert path.name == "manual__2026-03-01T00_00_00_00_00.jsonl.gz"  # no ':' or '+' in the stored name
    assert descriptor["appointments"] == 5 and descriptor["rejected_total"] == 1
    assert descriptor["rejected"] == [{"record_id": "T-BAD", "reason": "start is missing", "mailbox": None}]
    snapshot = snapshots.Snapshot.of(descriptor)
    assert snapshot.window == WINDOW
    assert list(snapshot.appointments()) == _appointments(5)


def test_a_part_left_out_of_a_record_is_reported_once_and_the_rest_kept(tmp_path):
    """Issue 21: an unreadable entry of the employee list is reported by the read; the shards get the rest."""
    partial = Appointment("T-P", "x", dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN), dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN),
                          employee_ids=("M-1",), dropped=("employees entry 1 is a NoneType (None): left out",))
    descriptor = snapshots.write(ObjectStoragePath(f"file://{tmp_path}/p.jsonl.gz"), WINDOW, [partial])
    assert descriptor["appointments"] == 1 and descriptor["rejected_total"] == 1
    assert descriptor["rejected"] == [{"record_id": "T-P", "reason": "employees entry 1 is a NoneType (None): left out",
                                       "mailbox": None}]
    [kept] = snapshots.Snapshot.of(descriptor).appointments()
    assert kept.employee_ids == ("M-1",) and kept.dropped == ()  # shards do not report it again


def test_xcom_carries_a_bounded_list_of_rejected_records(tmp_path):
    path = ObjectStoragePath(f"file://{tmp_path}/x.jsonl.gz")
    descriptor = snapshots.write(path, WINDOW, [Rejected(f"T-{i}", "bad") for i in range(1000)])
    assert descriptor["rejected_total"] == 1000 and len(descriptor["rejected"]) == snapshots.REJECTED_IN_XCOM


def test_a_large_read_stays_small_on_disk(tmp_path):
    path = ObjectStoragePath(f"file://{tmp_path}/big.jsonl.gz")
    descriptor = snapshots.write(path, WINDOW, _appointments(5000))
    assert descriptor["bytes"] == path.stat().st_size < 5000 * 60  # compressed: well under the JSON size


def test_a_missing_file_says_which_task_to_clear(tmp_path):
    descriptor = snapshots.write(ObjectStoragePath(f"file://{tmp_path}/a.jsonl.gz"), WINDOW, [])
    os.remove(tmp_path / "a.jsonl.gz")
    with pytest.raises(ConfigurationError, match="clear the read_appointments task"):
        list(snapshots.Snapshot.of(descriptor).appointments())


def test_anything_but_a_descriptor_is_refused():
    with pytest.raises(ConfigurationError, match="read_appointments task's output"):
        snapshots.Snapshot.of({"path": "/etc/passwd"})


def test_a_file_of_another_format_is_refused(tmp_path):
    with gzip.open(tmp_path / "other.jsonl.gz", "wt") as out:
        out.write('{"format": "something-else"}\n')
    snapshot = snapshots.Snapshot(ObjectStoragePath(f"file://{tmp_path}/other.jsonl.gz"), WINDOW)
    with pytest.raises(ConfigurationError, match="not an appointment file"):
        list(snapshot.appointments())


def test_prune_removes_only_old_run_files(tmp_path):
    folder = ObjectStoragePath(f"file://{tmp_path}")
    for name in ("old.jsonl.gz", "new.jsonl.gz", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    week_ago = dt.datetime.now().timestamp() - 8 * 86400
    os.utime(tmp_path / "old.jsonl.gz", (week_ago, week_ago))
    os.utime(tmp_path / "notes.txt", (week_ago, week_ago))
    assert snapshots.prune(folder, dt.timedelta(days=7)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.jsonl.gz", "notes.txt"]


def test_base_path_from_argument_environment_or_airflow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv(snapshots.BASE_ENV, raising=False)
    assert str(snapshots.base_path()) == f"file://{tmp_path}/oh_outlook/snapshots"
    monkeypatch.setenv(snapshots.BASE_ENV, "file:///shared/oh")
    assert str(snapshots.base_path()) == "file:///shared/oh"
    assert str(snapshots.base_path("file:///elsewhere")) == "file:///elsewhere"
