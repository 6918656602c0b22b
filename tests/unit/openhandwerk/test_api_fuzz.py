"""Fuzz: any JSON value openHandwerk may send is accepted or rejected with an id and a reason, never raised."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.openhandwerk import api, spellings
from oh_outlook_provider.openhandwerk.api import (
    APPOINTMENT_ALL_DAY,
    APPOINTMENT_EMPLOYEES,
    APPOINTMENT_END,
    APPOINTMENT_ID,
    APPOINTMENT_START,
    APPOINTMENT_TITLE,
    parse_appointment,
    parse_employee,
)
from oh_outlook_provider.sync.desired import desired_state
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.render import RenderOptions

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
DATES = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59)).map(lambda d: d.isoformat()),
    st.dates().map(dt.date.isoformat),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    JSON,
)
RECORD = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.text(max_size=12), st.integers(), JSON),
    "title": JSON, "start": DATES, "end": DATES, "allDay": JSON, "employees": JSON,
    "timezone": st.one_of(st.sampled_from(["Europe/Berlin", "UTC", "Mars/Olympus", "", "../etc"]), JSON),
    "cancelled": JSON, "status": JSON, "address": JSON, "customer": JSON, "description": JSON,
}) | st.dictionaries(st.sampled_from(APPOINTMENT_ID + APPOINTMENT_TITLE + APPOINTMENT_START + APPOINTMENT_END
                                     + APPOINTMENT_ALL_DAY + APPOINTMENT_EMPLOYEES), JSON | DATES, max_size=8) | JSON


def _has_reason(result) -> bool:
    return isinstance(result, Rejected) and bool(result.record_id) and bool(result.reason)


@settings(max_examples=600, deadline=None)
@given(RECORD)
def test_any_record_is_accepted_or_rejected_with_id_and_reason(record):
    result = parse_appointment(record)
    assert isinstance(result, Appointment) or _has_reason(result)
    if isinstance(result, Appointment):
        assert result.end >= result.start  # end == start: a zero-length appointment (issue 21)
        result.start_utc()  # usable downstream: no overflow, no naive time


@settings(max_examples=200, deadline=None)
@given(st.lists(RECORD, max_size=6))
def test_the_run_goes_on_whatever_the_records(records):
    """The whole desired state is built: bad records are carried as rejections, good ones as events."""
    parsed = [parse_appointment(r) for r in records]
    window = Window(dt.datetime(1601, 1, 2, tzinfo=dt.UTC), dt.datetime(4500, 12, 30, tzinfo=dt.UTC))
    state = desired_state(parsed + [parse_appointment(
        {"id": "good", "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00", "employees": ["M"]})],
        {"M": "mailbox"}, window, "openhandwerk:1", RenderOptions())
    assert any(e.key.appointment_id == "good" for e in state.by_mailbox["mailbox"])
    for event in state.by_mailbox["mailbox"]:
        assert event.fields["end"]  # every accepted appointment renders to Graph JSON
    assert len(state.rejected) >= sum(isinstance(p, Rejected) for p in parsed)


@settings(max_examples=300, deadline=None)
@given(JSON | st.dictionaries(st.sampled_from(["id", "email", "name", "active", "vorname"]), JSON, max_size=5))
def test_any_employee_record_is_accepted_or_rejected(record):
    result = parse_employee(record)
    assert not isinstance(result, Rejected) or (result.record_id and result.reason)


ADDRESS_KEYS = ("address", "adresse", "location", "ort", "einsatzort", "name", "street", "strasse", "houseNumber",
                "zip", "plz", "postalCode", "city", "stadt", "country", "land", "countryCode")
ADDRESS = st.dictionaries(st.sampled_from(ADDRESS_KEYS), JSON, max_size=6)


@settings(max_examples=400, deadline=None)
@given(ADDRESS, ADDRESS)
def test_whatever_address_shape_the_appointment_stays_usable(address, flat):
    """Issue 14 item 2: an address (nested under any of its keys, or flat on the record) never rejects
    an otherwise good appointment, and the event renders with texts equal to the generic canonical ones."""
    from oh_outlook_provider.sync import fingerprint
    from oh_outlook_provider.sync.render import render

    record = {**flat, "address": address, "id": "A-1", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00",
              "employees": ["M-1"]}
    result = parse_appointment(record)
    assert isinstance(result, Appointment), result
    assert isinstance(result.location, str)
    if result.address is not None:
        assert all(isinstance(part, str) for part in vars(result.address).values()) and result.address.street
    event = render(result, "M-1", "openhandwerk:1", RenderOptions())
    assert event.texts == fingerprint.texts(event.fields)


# ---------------------------------------------------------------- issue 25: the fast paths read as the slow ones
@settings(max_examples=400, deadline=None)
@given(RECORD | st.dictionaries(st.sampled_from(APPOINTMENT_ID + APPOINTMENT_START + APPOINTMENT_END + (
    "title", "titel", "address", "street", "plz", "ort", "employees", "mitarbeiter", "timezone")), JSON | DATES, max_size=10))
def test_a_record_reads_the_same_through_the_remembered_spellings_and_moments(record):
    """A dict is read through the spellings its keys hold and remembered times; any other Mapping through
    every spelling, and a cleared memory reads anew: all give the same appointment or the same reason."""
    read = parse_appointment(record)
    if isinstance(record, dict):
        assert parse_appointment(MappingProxyType(record)) == read
    spellings._SHAPES.clear()
    api._iso.cache_clear()
    api._wall_naive.cache_clear()
    assert parse_appointment(record) == read


def test_a_list_of_ids_keeps_each_once_stripped_and_without_blanks():
    assert api._employee_ids([" M-1", "M-2", "", "  ", "M-1 ", "M-3"]) == (("M-1", "M-2", "M-3"), ())
    assert api._employee_ids(["M-1", 7, " M-1"]) == (("M-1", "7"), ())  # not all texts: the general path
    assert api._employee_ids("M-1, M-2,,M-1") == (("M-1", "M-2"), ())


def test_remembered_wall_times_keep_the_occurrence_of_the_repeated_hour():
    berlin, naive = ZoneInfo("Europe/Berlin"), dt.datetime(2026, 10, 25, 2, 30)
    first, second = api._wall(naive, berlin), api._wall(naive.replace(fold=1), berlin)
    assert (first.utcoffset(), second.utcoffset()) == (dt.timedelta(hours=2), dt.timedelta(hours=1))
    assert api._wall(naive, berlin).utcoffset() == dt.timedelta(hours=2)


def test_an_unreadable_time_is_rejected_each_time_it_is_read():
    record = {"id": "A-1", "start": "2026-02-30T08:00", "end": "2026-03-02T09:00", "employees": ["M-1"]}
    assert parse_appointment(record) == parse_appointment(record) == Rejected(
        "A-1", "start '2026-02-30T08:00' is not an ISO date or date-time")
