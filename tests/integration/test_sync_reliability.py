"""Reliability against the sandbox (issue 11): overlapping runs, moved calendars, hostile ids and
records, time-zone edges, a wrong single-record path, and the run-level mass-delete guard."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from devtools.sandbox import control
from oh_outlook_provider.openhandwerk.api import parse_appointment
from oh_outlook_provider.sync.models import Appointment, Window
from oh_outlook_provider.sync.tags import holds_prop
from tests.conftest import BASE_DATE, oh_hook
from tests.integration.sync_helpers import (
    SOURCE,
    WINDOW,
    assert_converged,
    assert_in_target,
    event_of,
    mapping_for,
    ours,
    overlapping,
    sync,
    writes,
)

DAY = Window(dt.datetime.combine(BASE_DATE + dt.timedelta(days=1), dt.time(), dt.UTC),
             dt.datetime.combine(BASE_DATE + dt.timedelta(days=2), dt.time(), dt.UTC))


# These do not depend on how Graph executes a batch or answers a repeated transactionId: one
# behaviour suffices (the overlapping and moving tests, and the state machine, run under both).
ONE_BEHAVIOUR = pytest.mark.parametrize("sandbox", ["graph-4-at-a-time"], indirect=True)


@pytest.fixture
def mapping(sandbox):
    return mapping_for(sandbox)


# ---------------------------------------------------------------- item 3: overlapping runs
def test_two_overlapping_syncs_leave_every_event_exactly_once(sandbox, mapping):
    summaries = overlapping(sandbox, mapping, [WINDOW, WINDOW])
    assert all(s["failed"] == {} for s in summaries), [s["failed"] for s in summaries]
    # Both planned every create, so both wrote them; the read-back removed the second copies.
    assert summaries[0]["totals"]["create"] == summaries[1]["totals"]["create"] > 20
    assert_converged(sandbox, mapping)


def test_sync_and_backfill_day_overlapping_leave_every_event_exactly_once(sandbox, mapping):
    summaries = overlapping(sandbox, mapping, [WINDOW, DAY])
    assert all(s["failed"] == {} for s in summaries)
    assert summaries[1]["totals"]["create"] > 0
    assert_converged(sandbox, mapping, WINDOW)
    assert_converged(sandbox, mapping, DAY)


def test_overlapping_runs_into_a_named_calendar_and_a_rerun_writes_nothing(sandbox, mapping):
    overlapping(sandbox, mapping, [WINDOW, WINDOW, WINDOW], calendar_name="openHandwerk")
    assert_converged(sandbox, mapping)
    assert_in_target(sandbox, "openHandwerk")
    assert writes(sync(sandbox, mapping, calendar_name="openHandwerk")) == 0


# ---------------------------------------------------------------- item 4: calendar_name changes
DAYS_BEFORE = Window(WINDOW.start - dt.timedelta(days=7), WINDOW.start)


def test_changing_calendar_name_moves_every_event_and_leaves_none_behind(sandbox, mapping):
    before = sync(sandbox, mapping, window=WINDOW)
    outside = sync(sandbox, mapping, window=DAYS_BEFORE)  # events the later window never covers
    assert before["failed"] == {} and outside["totals"]["create"] > 0
    earlier = set(ours(sandbox, DAYS_BEFORE))
    cancelled = sorted(ours(sandbox))[0][1].split("|")[1]
    control.oh_change(sandbox.state, "cancel", cancelled)

    moved = sync(sandbox, mapping, calendar_name="openHandwerk")
    assert moved["failed"] == {}, moved["failed"]
    assert_in_target(sandbox, "openHandwerk")  # all of ours, inside the window and outside it
    assert_converged(sandbox, mapping)
    assert not any(k.split("|")[1] == cancelled for (_, k) in ours(sandbox, None))
    assert set(ours(sandbox, DAYS_BEFORE)) == earlier  # moved as they were, though outside the window

    back = sync(sandbox, mapping)  # and back to the default calendar
    assert back["failed"] == {}
    assert_in_target(sandbox, None)
    assert_converged(sandbox, mapping)
    # The emptied calendar is marked as such and no longer read.
    sync(sandbox, mapping)
    for user_id in {m["user_id"] for m in mapping.values()}:
        named = [c for c in sandbox.state.calendars.get(user_id, {}).values() if c["name"] == "openHandwerk"]
        assert all(c["_props"].get(holds_prop(SOURCE)) == "no" for c in named)
    sandbox.state.reset_counters()
    assert writes(sync(sandbox, mapping)) == 0
    assert all(c.get("write", 0) == 0 for c in sandbox.state.stats()["requests"].values())


@ONE_BEHAVIOUR
def test_a_foreign_event_in_the_old_calendar_is_never_moved_or_touched(sandbox, mapping):
    sync(sandbox, mapping)
    user = next(iter(sorted({m["user_id"] for m in mapping.values()})))
    from devtools.sandbox.events import store_event

    cal = sandbox.state.default_calendar(user)
    foreign = store_event(sandbox.state, user, cal["id"], {
        "subject": "Zahnarzt", "start": {"dateTime": "2026-03-21T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-21T11:00:00", "timeZone": "UTC"}})
    snapshot = copy.deepcopy(foreign)
    sync(sandbox, mapping, calendar_name="openHandwerk")
    assert sandbox.state.events[user][foreign["id"]] == snapshot


# ---------------------------------------------------------------- items 1, 2, 7: hostile records and ids
def new_appointment(sandbox, ident, start, end, employees=["M-001"], **extra):  # noqa: B006 - never mutated
    control.oh_change(sandbox.state, "new", record={"id": ident, "title": f"Termin {ident}", "start": start,
                                                    "end": end, "employees": employees, **extra})


@ONE_BEHAVIOUR
def test_hostile_records_are_rejected_one_by_one_and_the_rest_is_synced(sandbox, mapping):
    new_appointment(sandbox, "T-NUM", "2026-03-21T08:00:00", "2026-03-21T09:00:00", employees=1.5)
    control.oh_change(sandbox.state, "new", record={"id": "T-EMP", "title": "x", "start": "2026-03-21T08:00:00",
                                                    "end": "2026-03-21T09:00:00", "employees": [["M-001"]]})
    summary = sync(sandbox, mapping)
    reasons = {r["record_id"]: r["reason"] for r in summary["rejected"]}
    # issue 21: an entry of the list that names no one is left out and reported; the record is kept
    assert "employees is a float" in reasons["T-NUM"] and "employees entry 1 is a list" in reasons["T-EMP"]
    assert summary["failed"] == {} and summary["totals"]["create"] > 20
    # Synced appointments moved to year 1 and 9999: read by id (out of the window), rejected, their events kept.
    early, late = sorted({k.split("|")[1] for (_, k) in ours(sandbox)})[:2]
    for a_id, (start, end) in ((early, ("0001-01-01T00:30:00", "0001-01-01T01:30:00")),
                               (late, ("9999-12-31T23:00:00", "9999-12-31T23:30:00"))):
        sandbox.state.appointments[a_id].update(start=start, end=end)
    extreme = sync(sandbox, mapping, window=Window(dt.datetime(1, 1, 2, tzinfo=dt.UTC),
                                                   dt.datetime(9999, 12, 30, tzinfo=dt.UTC)))
    assert extreme["failed"] == {}, extreme["failed"]
    reasons = {r["record_id"]: r["reason"] for r in extreme["rejected"]}
    assert "outside the dates Outlook can store" in reasons[early] and "outside the dates" in reasons[late]
    assert {early, late} <= {k.split("|")[1] for (_, k) in ours(sandbox, None)}


IDS = ["T-FZ|17", "100% / ?#&='\"<>ü", "..", "a%7Cb", " 17 "]


@ONE_BEHAVIOUR
def test_any_printable_appointment_id_round_trips(sandbox, mapping):
    for n, ident in enumerate(IDS):
        new_appointment(sandbox, ident, f"2026-03-21T{8 + n:02}:00:00", f"2026-03-21T{9 + n:02}:00:00")
    first = sync(sandbox, mapping)
    assert first["failed"] == {}
    for ident in IDS:
        assert event_of(sandbox, ident.replace("%", "%25").replace("|", "%7C"), "M-001") is not None, ident
    second = sync(sandbox, mapping)
    assert writes(second) == 0, second["totals"]
    for ident in IDS:  # deleted ones are found by their id: the single GET encodes it
        control.oh_change(sandbox.state, "delete", ident)
    third = sync(sandbox, mapping)
    assert third["totals"]["delete"] == len(IDS) and third["failed"] == {}


# ---------------------------------------------------------------- item 8: ids in paths
@ONE_BEHAVIOUR
def test_hostile_user_ids_are_refused_and_nothing_is_written_outside_mapped_mailboxes(sandbox, mapping):
    mapped = {m["user_id"] for m in mapping.values()}
    victim = next(u.id for u in sandbox.state.users.values() if u.id not in mapped and u.has_mailbox)
    hostile = copy.deepcopy(mapping)
    shapes = ["{mapped}/../{victim}", "{victim}#", "{victim}?x=1", "../users/{victim}"]
    chosen = sorted(hostile)[: len(shapes)]
    for employee, shape in zip(chosen, shapes, strict=True):
        hostile[employee]["user_id"] = shape.format(mapped=hostile[employee]["user_id"], victim=victim)
    summary = sync(sandbox, hostile)
    for employee in chosen:
        bad = summary["mailboxes"][hostile[employee]["user_id"]]
        assert bad["status"] == "failed" and "not an Entra object id" in bad["error"]
        assert sum(bad["counts"].values()) == 0
    assert victim not in sandbox.state.stats()["requests"]
    assert all(c["isDefaultCalendar"] for c in sandbox.state.calendars.get(victim, {}).values())
    assert len(summary["mailboxes"]) - len(summary["failed"]) >= 1  # the others were synced


# ---------------------------------------------------------------- items 6, 13: the two DST days
@ONE_BEHAVIOUR
def test_the_second_0230_of_the_autumn_day_is_written_right_and_never_rewritten(sandbox, mapping):
    new_appointment(sandbox, "T-FOLD", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00")
    autumn = Window(dt.datetime(2026, 10, 24, tzinfo=dt.UTC), dt.datetime(2026, 10, 27, tzinfo=dt.UTC))
    assert sync(sandbox, mapping, window=autumn)["totals"]["create"] >= 1
    _, event = event_of(sandbox, "T-FOLD", "M-001")
    assert event["_start_utc"] == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    again = sync(sandbox, mapping, window=autumn, on_outlook_edit="fail")
    assert writes(again) == 0 and again["failed"] == {} and again["totals"]["conflict"] == 0


@ONE_BEHAVIOUR
def test_a_start_in_the_spring_gap_is_moved_forward_and_a_valid_end_stays(sandbox, mapping):
    # issue 21: only the time that does not exist moves; 03:30 CEST exists, so the event is zero-length
    new_appointment(sandbox, "T-GAP", "2026-03-29T02:30:00", "2026-03-29T03:30:00")
    assert sync(sandbox, mapping)["failed"] == {}
    _, event = event_of(sandbox, "T-GAP", "M-001")
    assert (event["_start_utc"], event["_end_utc"]) == (dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
                                                        dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC))
    assert writes(sync(sandbox, mapping)) == 0


# ---------------------------------------------------------------- item 9: the single-appointment GET
@ONE_BEHAVIOUR
def test_a_wrong_single_appointment_path_deletes_nothing(sandbox, mapping):
    sync(sandbox, mapping)
    gone = sorted(ours(sandbox))[0][1].split("|")[1]
    control.oh_change(sandbox.state, "delete", gone)
    wrong = oh_hook(sandbox, paths={"appointment": "/termine/{id}"})
    summary = sync(sandbox, mapping, openhandwerk=wrong)
    assert summary["failed"] and all("single-appointment path" in e for e in summary["failed"].values())
    assert any(k.split("|")[1] == gone for (_, k) in ours(sandbox, None))  # still there
    assert sync(sandbox, mapping)["totals"]["delete"] >= 1  # the right path deletes it


# ---------------------------------------------------------------- item 11: the run-level guard
@ONE_BEHAVIOUR
def test_an_empty_answer_for_a_backfill_day_deletes_nothing(sandbox, mapping):
    sync(sandbox, mapping, window=DAY)
    held = ours(sandbox, DAY)
    assert 0 < len(held) < 5 * len(mapping)  # a small window: no mailbox reaches mass_delete_min alone
    for a_id, record in list(sandbox.state.appointments.items()):
        parsed = parse_appointment(record)
        if isinstance(parsed, Appointment) and parsed.start.isoformat()[:10] in {"2026-03-21", "2026-03-22"}:
            control.oh_change(sandbox.state, "delete", a_id)
    summary = sync(sandbox, mapping, window=DAY)
    assert summary["appointments"] == 0
    assert summary["totals"]["delete"] == 0 and summary["totals"]["delete_blocked"] == len(held)
    assert all("returned no appointment at all" in e for e in summary["failed"].values())
    assert ours(sandbox, DAY) == held
    forced = sync(sandbox, mapping, window=DAY, allow_mass_delete=True)
    assert forced["totals"]["delete"] == len(held) and not ours(sandbox, DAY)


@ONE_BEHAVIOUR
def test_a_run_deleting_most_of_our_events_is_held_back_though_no_mailbox_trips(sandbox, mapping):
    week = Window(WINDOW.start, WINDOW.start + dt.timedelta(days=10))
    sync(sandbox, mapping, window=week)
    held = ours(sandbox, week)
    keys = sorted({k.split("|")[1] for (_, k) in held})
    for a_id in keys[: int(len(keys) * 0.8)]:
        control.oh_change(sandbox.state, "delete", a_id)
    summary = sync(sandbox, mapping, window=week, max_delete_fraction=0.5)
    assert summary["totals"]["delete"] == 0 and summary["totals"]["delete_blocked"] > 0
    assert any("whole run" in e for e in summary["failed"].values())
    assert ours(sandbox, week) == held
