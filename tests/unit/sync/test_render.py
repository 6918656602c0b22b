"""Appointment -> desired event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.canonical import units
from oh_outlook_provider.sync.codec import appointment_from, appointment_record
from oh_outlook_provider.sync.models import Appointment, PostalAddress
from oh_outlook_provider.sync.render import NOT_RENDERED, RENDER_VERSION, RenderOptions, render, source_digest
from oh_outlook_provider.sync.tags import FINGERPRINT_PROP, KEY_PROP, SOURCE_PROP

BERLIN = ZoneInfo("Europe/Berlin")


def appt(**kw):
    base = dict(id="T-1", title="Wartung Gastherme Größer", start=dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN),
                end=dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN), description="Bitte klingeln", location="Hauptstraße 1, Köln",
                customer="Bäckerei Größer", project_number="P-1", category="Wartung", employee_ids=("M-1",))
    base.update(kw)
    return Appointment(**base)


def test_timed_event_uses_wall_clock_and_windows_zone_and_never_attendees():
    event = render(appt(), "M-1", "openhandwerk:4711", RenderOptions(web_url="https://app.oh.de"))
    f = event.fields
    assert f["start"] == {"dateTime": "2026-03-02T08:00:00", "timeZone": "W. Europe Standard Time"}
    assert f["end"]["dateTime"] == "2026-03-02T10:00:00" and f["isAllDay"] is False
    assert f["subject"] == "Wartung Gastherme Größer" and f["location"] == {"displayName": "Hauptstraße 1, Köln"}
    body = f["body"]["content"]
    assert "Bitte klingeln" in body and "Kunde: Bäckerei Größer" in body and "Projekt: P-1" in body
    assert "https://app.oh.de/termine/T-1" in body
    assert f["showAs"] == "busy" and f["isReminderOn"] and "attendees" not in event.create_body("run")
    assert event.start_utc == dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)


def test_tags_and_transaction_id_are_deterministic():
    a = render(appt(), "M-1", "openhandwerk:4711", RenderOptions())
    b = render(appt(), "M-1", "openhandwerk:4711", RenderOptions())
    body = a.create_body("run-1")
    props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
    assert props[SOURCE_PROP] == "openhandwerk:4711" and props[KEY_PROP] == "openhandwerk:4711|T-1|M-1"
    assert fingerprint.decode(props[FINGERPRINT_PROP]) == a.hashes | {"_all": a.digest, "_cmp": a.comparable_digest,
                                                                 "_src": a.source_digest}
    assert body["transactionId"] == b.create_body("run-1")["transactionId"] != a.create_body("run-2")["transactionId"]
    other = render(appt(), "M-2", "openhandwerk:4711", RenderOptions()).create_body("run-1")["transactionId"]
    assert other != body["transactionId"]


def test_all_day_multi_day_has_midnight_bounds_and_exclusive_end():
    event = render(appt(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 5), all_day=True, category="Urlaub"),
                   "M-1", "s", RenderOptions())
    f = event.fields
    assert f["isAllDay"] and f["start"]["dateTime"] == "2026-03-02T00:00:00" and f["end"]["dateTime"] == "2026-03-05T00:00:00"
    assert f["start"]["timeZone"] == f["end"]["timeZone"]
    assert f["showAs"] == "oof" and f["isReminderOn"] is False


def test_dst_crossing_keeps_local_wall_time():
    # Night shift across the spring change (29 March 2026, 02:00 -> 03:00).
    event = render(appt(start=dt.datetime(2026, 3, 28, 22, tzinfo=BERLIN), end=dt.datetime(2026, 3, 29, 6, tzinfo=BERLIN)),
                   "M-1", "s", RenderOptions())
    assert event.fields["start"]["dateTime"] == "2026-03-28T22:00:00"
    assert event.fields["end"]["dateTime"] == "2026-03-29T06:00:00"
    hashes = fingerprint.hashes(event.fields)
    assert hashes["end"] == fingerprint.field_hash("end", {"dateTime": "2026-03-29T04:00:00.0000000", "timeZone": "UTC"},
                                                   False)


def test_category_map_and_subject_limit():
    event = render(appt(title="x" * 400), "M-1", "s", RenderOptions(category_map={"Wartung": "Grüne Kategorie"}))
    assert event.fields["categories"] == ["Grüne Kategorie"] and len(event.fields["subject"]) == 255
    # unnamed categories keep their own name (issue 14 item 5); "" or categories=False write none
    assert render(appt(), "M-1", "s", RenderOptions()).fields["categories"] == ["Wartung"]
    assert render(appt(category=" wartung "), "M-1", "s", RenderOptions(category_map={"WARTUNG": "Service"})
                  ).fields["categories"] == ["Service"]
    assert render(appt(), "M-1", "s", RenderOptions(category_map={"Wartung": ""})).fields["categories"] == []
    assert render(appt(), "M-1", "s", RenderOptions(categories=False)).fields["categories"] == []
    assert render(appt(category=""), "M-1", "s", RenderOptions()).fields["categories"] == []


KOELN = PostalAddress("Hauptstraße 5", "50667", "Köln")


def test_an_address_in_parts_becomes_a_physical_address_and_a_route_link():
    event = render(appt(location=KOELN.display(), address=KOELN), "M-1", "s", RenderOptions())
    assert event.fields["location"] == {
        "displayName": "Hauptstraße 5, 50667 Köln",
        "address": {"street": "Hauptstraße 5", "postalCode": "50667", "city": "Köln", "state": "",
                    "countryOrRegion": ""}}
    assert ("Route: https://www.google.com/maps/search/?api=1&query=Hauptstra%C3%9Fe+5%2C+50667+K%C3%B6ln"
            in event.fields["body"]["content"])


def test_free_text_stays_a_display_name_without_a_route_link():
    event = render(appt(location="Büro"), "M-1", "s", RenderOptions())
    assert event.fields["location"] == {"displayName": "Büro"}
    assert "Route:" not in event.fields["body"]["content"]


def test_the_route_link_follows_the_options():
    a = appt(location=KOELN.display(), address=KOELN)
    osm = render(a, "M-1", "s", RenderOptions(map_url="https://www.openstreetmap.org/search?query={query}"))
    assert "Route: https://www.openstreetmap.org/search?query=Hauptstra%C3%9Fe" in osm.fields["body"]["content"]
    assert "Route:" not in render(a, "M-1", "s", RenderOptions(map_url=None)).fields["body"]["content"]


def test_a_foreign_country_is_shown_a_german_one_is_not():
    assert PostalAddress("Ring 1", "1010", "Wien", "Österreich").display() == "Ring 1, 1010 Wien, Österreich"
    assert PostalAddress("Ring 1", "50667", "Köln", "DE").display() == "Ring 1, 50667 Köln"


def test_fingerprint_survives_graph_round_trip():
    event = render(appt(), "M-1", "s", RenderOptions())
    read_back = dict(event.fields, start={"dateTime": "2026-03-02T07:00:00.0000000", "timeZone": "UTC"},
                     end={"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "W. Europe Standard Time"},
                     body={"contentType": "html", "content": "<html>...</html>"})
    current = fingerprint.hashes(read_back, fingerprint.COMPARABLE)
    assert all(current[n] == event.hashes[n] for n in fingerprint.COMPARABLE)


def test_render_texts_equal_the_generic_canonical_texts():
    """render() builds the canonical texts directly for speed; they must be what fingerprint.texts says."""
    cases = [appt(), appt(title="  Leerzeichen  ", location=" Ort "),
             appt(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 5), all_day=True, category="Urlaub"),
             appt(start=dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), end=dt.datetime(2026, 10, 25, 3, 30, tzinfo=BERLIN)),
             appt(location=KOELN.display(), address=KOELN)]
    for options in (RenderOptions(), RenderOptions(reminder_minutes=None, category_map={"Wartung": "Blau"})):
        for a in cases:
            event = render(a, "M-1", "s", options)
            assert event.texts == fingerprint.texts(event.fields)


def test_the_second_0230_of_the_autumn_day_is_written_as_its_instant_and_reads_back_unchanged():
    """Issue 11 item 6: 02:30+01:00 on 25 Oct 2026 was written as 02:30 wall time (= 00:30Z, the first one)."""
    second = dt.datetime(2026, 10, 25, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))).astimezone(BERLIN)
    event = render(appt(start=second, end=second + dt.timedelta(hours=1)), "M-1", "s", RenderOptions())
    assert event.fields["start"] == {"dateTime": "2026-10-25T01:30:00", "timeZone": "UTC"}
    assert event.fields["end"] == {"dateTime": "2026-10-25T03:30:00", "timeZone": "W. Europe Standard Time"}
    # Graph answers in Berlin wall time (Prefer: outlook.timezone): 02:30, which names both instants.
    read_back = dict(event.fields, start={"dateTime": "2026-10-25T02:30:00.0000000", "timeZone": "W. Europe Standard Time"})
    assert fingerprint.hashes(read_back, fingerprint.COMPARABLE)["start"] == event.hashes["start"]
    first_one = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).astimezone(BERLIN)
    first = render(appt(start=first_one, end=second), "M-1", "s", RenderOptions())
    assert first.fields["start"] == {"dateTime": "2026-10-25T00:30:00", "timeZone": "UTC"}


# ---------------------------------------------------------------- issue 21: what Exchange keeps
ISSUE_TITLE = "Wartung Heizung – Fam. Özdemir " + "🔧" * 12 + " " + "x" * 220


def test_a_subject_is_at_most_255_utf16_units_and_one_line():
    long = render(appt(title=ISSUE_TITLE), "M-1", "s", RenderOptions())
    assert units(long.fields["subject"]) == 255 and ISSUE_TITLE.startswith(long.fields["subject"])
    assert render(appt(title="Montage\nKüche Block B"), "M-1", "s", RenderOptions()).fields["subject"] == \
        "Montage Küche Block B"
    assert render(appt(title="\x00"), "M-1", "s", RenderOptions()).fields["subject"] == "(ohne Titel)"


def test_a_location_and_a_category_are_one_line_too():
    event = render(appt(location="Hauptstr. 5\r\n50667 Köln", category="Montage\tInnen"), "M-1", "s", RenderOptions())
    assert event.fields["location"] == {"displayName": "Hauptstr. 5 50667 Köln"}
    assert event.fields["categories"] == ["Montage Innen"]


def test_times_are_written_to_the_minute():
    event = render(appt(start=dt.datetime(2026, 3, 2, 8, 0, 30, tzinfo=BERLIN),
                        end=dt.datetime(2026, 3, 2, 9, 59, 59, 900, tzinfo=BERLIN)), "M-1", "s", RenderOptions())
    assert (event.fields["start"]["dateTime"], event.fields["end"]["dateTime"]) == ("2026-03-02T08:00:00",
                                                                                  "2026-03-02T09:59:00")
    assert event.texts == fingerprint.texts(event.fields)


def test_plain_values_keep_the_texts_an_installation_stored_before():
    """Upgrade (README): only values whose canonical form changed are rewritten once; plain ones keep
    the texts (and so the stored hashes) of 0.3."""
    event = render(appt(title="  Wartung Gastherme  ", location=" Hauptstraße 1, Köln "), "M-1", "s", RenderOptions())
    subject, location, categories = (event.texts[fingerprint.MANAGED.index(n)] for n in ("subject", "location",
                                                                                          "categories"))
    assert (subject, location, categories) == ("Wartung Gastherme", "Hauptstraße 1, Köln", "Wartung")


TEXT = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(["🔧", "e\u0301", "\r\n", "\t", "\u200b", "x" * 50, " "]),
                                                 max_size=30).map("".join))


@given(title=TEXT, location=TEXT, category=TEXT)
@settings(max_examples=150, deadline=None)
def test_render_texts_equal_the_generic_canonical_texts_for_any_text(title, location, category):
    event = render(appt(title=title or "x", location=location, category=category), "M-1", "s", RenderOptions())
    assert event.texts == fingerprint.texts(event.fields)
    assert units(event.fields["subject"]) <= 255 and units(event.fields["location"]["displayName"]) <= 255


def test_a_long_category_keeps_its_combining_marks_whole():
    [name] = render(appt(category="e\u0301" * 200), "M-1", "s", RenderOptions()).fields["categories"]
    assert name == "e\u0301" * 127 and units(name) == 254


def test_the_two_half_past_two_of_the_night_the_clocks_go_back_stay_two_instants_in_another_zone():
    """Remembered moments keep the fold: 02:30 CEST (fold 0) and 02:30 CET (fold 1) on 25 Oct 2026 compare
    equal as aware times of one zone, but are an hour apart; written in another zone they are two wall
    times (a cache keyed by the time and its zone alone wrote both the same). In their own zone the
    repeated hour is read as its first occurrence on both sides (fingerprint.utc_text)."""
    from oh_outlook_provider.sync.render import _moment_text

    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    second = first.replace(fold=1)
    assert first == second
    assert _moment_text(first, "Asia/Tokyo", False) == "2026-10-25T00:30:00Z"
    assert _moment_text(second, "Asia/Tokyo", False) == "2026-10-25T01:30:00Z"
    assert _moment_text(second, "Europe/Berlin", False) == _moment_text(first, "Europe/Berlin", False)


# ---------------------------------------------------------------- issue 25: the source digest
OTHER_VALUES = {  # another value of every Appointment field: a field added later must be added here
    "id": "T-2", "title": "Anders", "start": dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN),
    "end": dt.datetime(2026, 3, 2, 11, tzinfo=BERLIN), "timezone": "Asia/Tokyo", "all_day": True,
    "description": "Anders", "location": "Anderswo", "address": None, "customer": "Anders", "project_number": "P-2",
    "category": "Urlaub", "employee_ids": ("M-1", "M-2"), "cancelled": True, "status": "storniert",
    "dropped": ("employees entry 2 is a NoneType",)}
OTHER_OPTIONS = {  # another value of every RenderOptions field: an option added later must be added here
    "web_url": "https://app.oh.de", "category_map": {"Wartung": "Blau"}, "categories": False, "reminder_minutes": 30,
    "show_as": "tentative", "sensitivity": "private", "show_as_map": {"wartung": "free"},
    "sensitivity_map": {"wartung": "private"}, "map_url": None}


def test_every_appointment_field_is_in_the_source_digest_unless_rendering_never_reads_it():
    """An event is taken for unchanged without rendering when its source digest is the stored one (sync/plan.py):
    a field rendering reads but the digest left out would hide every change of it."""
    base, options = appt(location=KOELN.display(), address=KOELN), RenderOptions()
    for name in (f.name for f in dataclasses.fields(Appointment)):
        changed = dataclasses.replace(base, **{name: OTHER_VALUES[name]})
        if name in NOT_RENDERED:
            assert render(changed, "M-1", "s", options).fields == render(base, "M-1", "s", options).fields, name
        else:
            assert source_digest(changed, options) != source_digest(base, options), name
    for name in (f.name for f in dataclasses.fields(PostalAddress)):
        moved = dataclasses.replace(base, address=dataclasses.replace(KOELN, **{name: "x"}))
        assert source_digest(moved, options) != source_digest(base, options), name
    assert NOT_RENDERED < {f.name for f in dataclasses.fields(Appointment)}


def test_the_source_digest_tells_apart_what_renders_apart():
    """The two 02:30 of the night the clocks go back, a time in another offset, a date and a time."""
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    moments = [first, first.replace(fold=1), first.replace(tzinfo=dt.timezone(dt.timedelta(hours=3))),
               first.replace(tzinfo=None)]
    digests = {source_digest(appt(start=m, end=first + dt.timedelta(hours=2)), RenderOptions()) for m in moments}
    assert len(digests) == len(moments)
    day = appt(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 3), all_day=True)
    midnight = appt(start=dt.datetime(2026, 3, 2, tzinfo=BERLIN), end=dt.datetime(2026, 3, 3, tzinfo=BERLIN))
    assert source_digest(day, RenderOptions()) != source_digest(midnight, RenderOptions())


def test_every_option_is_in_the_source_digest():
    base = RenderOptions()
    for name in (f.name for f in dataclasses.fields(RenderOptions)):
        assert dataclasses.replace(base, **{name: OTHER_OPTIONS[name]}).digest != base.digest, name
    # Maps are compared as the sync reads them: casefolded and in any order.
    assert RenderOptions(category_map={"A": "x", "b": "y"}).digest == RenderOptions(category_map={"B": "y", "a": "x"}).digest


def test_an_appointment_read_from_the_run_file_has_the_source_digest_of_the_one_read_from_openhandwerk():
    """Shards read the run's appointment file (runners/appointments.py): the same appointment must not
    render again there."""
    second = dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN).replace(fold=1)
    for appointment in (appt(location=KOELN.display(), address=KOELN), appt(start=second, end=second),
                        appt(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 3), all_day=True)):
        restored = appointment_from(appointment_record(appointment))
        assert source_digest(restored, RenderOptions()) == source_digest(appointment, RenderOptions())


def test_the_render_version_is_bumped_with_what_rendering_writes():
    """RENDER_VERSION is in every source digest. When this fails, rendering writes something else for the same
    appointment and options: bump RENDER_VERSION (else a rerun keeps every event as written before), then
    update both numbers here."""
    second = dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN).replace(fold=1)
    cases = [appt(), appt(title=ISSUE_TITLE, location="Hauptstr. 5\r\n50667 Köln", category="Urlaub"),
             appt(location=KOELN.display(), address=KOELN), appt(start=second, end=second + dt.timedelta(hours=1)),
             appt(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 5), all_day=True, category="Krank")]
    options = [RenderOptions(), RenderOptions(web_url="https://app.oh.de", category_map={"Urlaub": "Frei"},
                                              reminder_minutes=None, map_url=None)]
    rendered = [(e.fields, e.texts, e.digest, e.comparable_digest)
                for o in options for a in cases for e in [render(a, "M-1", "s", o)]]
    assert (RENDER_VERSION, format(zlib.crc32(repr(rendered).encode()), "08x")) == (1, "dd3dc8b6")


def test_a_map_url_that_cannot_be_filled_in_is_refused_when_the_options_are_made_not_when_an_event_is_written():
    """Review of issue 25: texts are rendered on first use, inside a `$batch` lane; a bad template there
    would stop the mailbox's writes instead of failing the run's configuration at once."""
    import pytest

    for bad in ("https://x.example/?q={query}{", "https://x.example/?q={place}", "https://x.example/{0}"):
        with pytest.raises(ValueError, match="placeholder"):
            RenderOptions(map_url=bad)
    assert RenderOptions(map_url="https://x.example/?q={query}").map_url == "https://x.example/?q={query}"
