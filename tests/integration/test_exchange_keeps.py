"""Issue 21: what Exchange keeps is not always what we sent. Under every emulated way Exchange stores a
text or a time (docs/sandbox-fidelity.md rows E7-E10; tests/conftest.py STORES), the second run writes
nothing and the event holds the canonical value; and the issue's partial and edge-of-time records
arrive in Outlook as openHandwerk meant them."""

from __future__ import annotations

import datetime as dt

import pytest

from devtools.sandbox import control
from oh_outlook_provider.sync.canonical import one_line, units
from tests.conftest import BASE_DATE, STORES
from tests.integration.sync_helpers import assert_converged, event_of, mapping_for, sync, writes

LONG_TITLE = "Wartung Heizung – Fam. Özdemir " + "🔧" * 12 + " " + "x" * 220  # 255 code points, 267 UTF-16 units


@pytest.fixture(params=list(STORES))
def store(shared_sandbox, request):
    """The session's server with fresh data, once per way Exchange may keep texts and times."""
    shared_sandbox.state.reload(seed=42, base_date=BASE_DATE, employees=12, appointments_per_employee=2,
                                latency_ms=0.0, jitter_ms=0.0, faults=None, limits=None, access_policy=True,
                                behaviour=STORES[request.param], rbac_scope=False)
    return shared_sandbox


def new(state, ident: str, day: int = 1, hour: int = 9, minutes: int = 60, **fields) -> None:
    start = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time(hour))
    control.oh_change(state, "new", record={"id": ident, "title": ident, "employees": ["M-001"],
                                            "start": start.isoformat(),
                                            "end": (start + dt.timedelta(minutes=minutes)).isoformat(), **fields})


def test_texts_exchange_rewrites_are_written_once_and_then_never_again(store):
    state = store.state
    new(state, "T-LONG", title=LONG_TITLE)
    new(state, "T-BREAK", title="Montage\nKüche Block B", address="Hauptstr. 5\r\n50667 Köln", category="Montage\tInnen")
    new(state, "T-SECONDS")
    state.appointments["T-SECONDS"]["start"] = state.appointments["T-SECONDS"]["start"][:-2] + "30"
    marks_title = "Cafe\u0301 \u200b" + "e\u0301" * 120 + "\t👨‍👩‍👧" * 20
    new(state, "T-MARKS", title=marks_title, category="baustelle")
    mapping = mapping_for(store)
    first = sync(store, mapping)
    assert first["failed"] == {} and first["totals"]["create"] >= 4
    second = sync(store, mapping)
    assert writes(second) == 0 and second["totals"].get("conflict", 0) == 0, second["totals"]
    assert_converged(store, mapping)

    _, long = event_of(store, "T-LONG", "M-001")
    assert units(long["subject"]) == 255 and LONG_TITLE.startswith(long["subject"])  # the canonical one, kept as sent
    _, broken = event_of(store, "T-BREAK", "M-001")
    assert (broken["subject"], broken["location"]["displayName"], broken["categories"]) == (
        "Montage Küche Block B", "Hauptstr. 5 50667 Köln", ["Montage Innen"])
    _, marks = event_of(store, "T-MARKS", "M-001")
    assert marks["subject"] == one_line(marks_title) and marks["subject"].endswith("e\u0301")  # no family half


def test_partial_zero_length_and_spring_forward_records_arrive_as_meant(store):
    """`employees: [null, "M-001"]` syncs for M-001 and reports the null with the record id; a call-back
    with end == start is zero-length in Outlook; 02:30-04:00 on the spring-forward day ends at 04:00 CEST."""
    new(store.state, "T-NULL", employees=[None, "M-001"])
    new(store.state, "T-CALL", title="Rückruf 10:00", hour=10, minutes=0)
    spring = dt.date(2026, 3, 29)  # last Sunday of March 2026: 02:00 -> 03:00 in Berlin
    control.oh_change(store.state, "new", record={"id": "T-GAP", "title": "Nachtarbeit", "employees": ["M-001"],
                                                  "start": f"{spring}T02:30:00", "end": f"{spring}T04:00:00"})
    mapping = mapping_for(store)
    summary = sync(store, mapping)
    assert summary["failed"] == {}
    assert event_of(store, "T-NULL", "M-001") is not None
    [dropped] = [r for r in summary["rejected"] if r["record_id"] == "T-NULL"]
    assert "employees entry 1 is a NoneType" in dropped["reason"] and "left out" in dropped["reason"]
    _, call = event_of(store, "T-CALL", "M-001")
    assert call["_start_utc"] == call["_end_utc"]  # zero-length in Outlook
    _, gap = event_of(store, "T-GAP", "M-001")
    assert gap["_end_utc"] == dt.datetime(2026, 3, 29, 2, tzinfo=dt.UTC)  # 04:00 CEST, as openHandwerk said
    assert gap["_start_utc"] == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)  # 02:30 does not exist: 03:30 CEST
    assert writes(sync(store, mapping)) == 0
