"""The pure planner: every action, every Outlook-edit policy, duplicates, foreign events, the guard."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.models import Appointment, PostalAddress
from oh_outlook_provider.sync.plan import POLICIES, ExistingEvent, PlanPolicy, plan_mailbox
from oh_outlook_provider.sync.render import NO_ADDRESS, RenderOptions, render
from oh_outlook_provider.sync.tags import FINGERPRINT_PROP, KEY_PROP, SOURCE_PROP

BERLIN = ZoneInfo("Europe/Berlin")
SOURCE = "openhandwerk:4711"


def desired(i, title=None, hour=8, address=None):
    a = Appointment(id=f"T-{i}", title=title or f"Termin {i}", start=dt.datetime(2026, 3, 2, hour, tzinfo=BERLIN),
                    end=dt.datetime(2026, 3, 2, hour + 1, tzinfo=BERLIN), employee_ids=("M-1",),
                    location=address.display() if address else "", address=address)
    return render(a, "M-1", SOURCE, RenderOptions())


def as_graph(d, event_id=None, source=SOURCE, src=True, **edits):
    """The event as Graph would return it after we wrote `d` (and a user maybe edited it); `src=False`:
    as written before fingerprints held the source digest."""
    fields = dict(d.fields)
    fields.update(edits)
    return ExistingEvent.from_graph({
        "id": event_id or f"ev-{d.key.appointment_id}", **fields,
        "singleValueExtendedProperties": [
            {"id": SOURCE_PROP, "value": source}, {"id": KEY_PROP, "value": str(d.key)},
            {"id": FINGERPRINT_PROP,
             "value": fingerprint.encode(fingerprint.stamp(d.texts, d.source_digest if src else None))}],
    })


def test_create_unchanged_update_delete():
    a, b, c = desired(1), desired(2), desired(3)
    b2 = desired(2, title="Neuer Titel")
    plan = plan_mailbox([a, b2], [as_graph(b), as_graph(c)], source=SOURCE)
    assert [x.desired.key.appointment_id for x in plan.creates] == ["T-1"]
    assert [(u.event_id, u.fields) for u in plan.updates] == [("ev-T-2", ("subject",))]
    assert plan.updates[0].patch_body()["subject"] == "Neuer Titel"
    assert "attendees" not in plan.updates[0].patch_body()
    assert [d.event_id for d in plan.deletes] == ["ev-T-3"]
    assert plan.unchanged == 0 and plan.counts()["create"] == 1
    again = plan_mailbox([a], [as_graph(a)], source=SOURCE)
    assert again.writes == 0 and again.unchanged == 1


def test_time_change_patches_start_end_and_all_day_together():
    plan = plan_mailbox([desired(1, hour=9)], [as_graph(desired(1))], source=SOURCE)
    assert plan.updates[0].fields == ("start", "end", "isAllDay")


def test_foreign_and_other_source_events_are_ignored():
    d = desired(1)
    foreign = ExistingEvent.from_graph({"id": "private", "subject": "Zahnarzt", "start": d.fields["start"],
                                        "end": d.fields["end"]})
    other = as_graph(desired(2), source="openhandwerk:9999")
    plan = plan_mailbox([], [foreign, other], source=SOURCE)
    assert plan.writes == 0 and plan.deletes == []


def test_duplicates_are_removed_keeping_one():
    d = desired(1)
    plan = plan_mailbox([d], [as_graph(d, "ev-b"), as_graph(d, "ev-a")], source=SOURCE)
    assert [x.event_id for x in plan.deletes] == ["ev-b"] and plan.unchanged == 1


@pytest.mark.parametrize(("policy", "resolution", "updates"), [("overwrite", "overwritten", 1), ("keep", "kept", 0),
                                                              ("fail", "failed", 0)])
def test_outlook_edit_policies(policy, resolution, updates):
    d = desired(1)
    edited = as_graph(d, location={"displayName": "Beim Kunden angerufen, verschoben"})
    plan = plan_mailbox([d], [edited], PlanPolicy(on_outlook_edit=policy), source=SOURCE)
    assert [(c.fields, c.resolution) for c in plan.conflicts] == [(("location",), resolution)]
    assert len(plan.updates) == updates
    if updates:
        assert plan.updates[0].fields == ("location",)
        # no address in openHandwerk: cleared explicitly, as a merging PATCH would keep one an edit added
        assert plan.updates[0].patch_body()["location"] == {"displayName": "", "address": NO_ADDRESS}


def test_edit_that_matches_our_new_value_is_still_reported_but_not_rewritten_needlessly():
    d = desired(1, title="Neu")
    old = desired(1)
    event = as_graph(old, subject="Neu")  # the user typed what openHandwerk now says
    plan = plan_mailbox([d], [event], source=SOURCE)
    assert plan.conflicts[0].fields == ("subject",)
    assert plan.updates[0].fields == ("subject",)  # fingerprint is brought up to date


def test_unreadable_fingerprint_rewrites_all_fields():
    d = desired(1)
    event = ExistingEvent.from_graph({"id": "x", **d.fields, "singleValueExtendedProperties": [
        {"id": SOURCE_PROP, "value": SOURCE}, {"id": KEY_PROP, "value": str(d.key)}]})
    plan = plan_mailbox([d], [event], source=SOURCE)
    assert plan.conflicts == [] and set(plan.updates[0].fields) == set(fingerprint.MANAGED)


def test_mass_delete_guard():
    existing = [as_graph(desired(i)) for i in range(10)]
    plan = plan_mailbox([desired(0)], existing, PlanPolicy(max_delete_fraction=0.5), source=SOURCE)
    assert plan.deletes == [] and len(plan.blocked_deletes) == 9 and "allow_mass_delete" in plan.guard_message
    allowed = plan_mailbox([desired(0)], existing, PlanPolicy(allow_mass_delete=True), source=SOURCE)
    assert len(allowed.deletes) == 9 and allowed.guard_message is None
    few = plan_mailbox([], existing[:4], source=SOURCE)  # below mass_delete_min
    assert len(few.deletes) == 4


def test_policy_validation():
    with pytest.raises(ValueError, match="on_outlook_edit"):
        PlanPolicy(on_outlook_edit="merge")
    with pytest.raises(ValueError):
        PlanPolicy(max_delete_fraction=2)


def test_fingerprint_without_digests_takes_the_per_field_path():
    d = desired(1)
    event = ExistingEvent.from_graph({"id": "x", **d.fields, "singleValueExtendedProperties": [
        {"id": SOURCE_PROP, "value": SOURCE}, {"id": KEY_PROP, "value": str(d.key)},
        {"id": FINGERPRINT_PROP, "value": fingerprint.encode(d.hashes)}]})
    assert plan_mailbox([d], [event], source=SOURCE).unchanged == 1
    changed = plan_mailbox([desired(1, title="anders")], [event], source=SOURCE)
    assert changed.updates[0].fields == ("subject",)


def test_digests_match_after_a_graph_round_trip():
    d = desired(1)
    read_back = dict(d.fields, start={"dateTime": "2026-03-02T07:00:00.0000000", "timeZone": "UTC"},
                     body={"contentType": "html", "content": "<html>changed by Graph</html>"})
    event = as_graph(d, **read_back)
    assert event.current_digest == d.comparable_digest


def test_copies_in_another_calendar_move_and_only_gone_ones_count_as_deletes():
    """A calendar_name change: a wanted key found only elsewhere is created in the target and its copy
    deleted as moved; a copy of a key also in the target is moved away; an unwanted one is a real delete."""
    from dataclasses import replace

    from oh_outlook_provider.sync.plan import GONE, MOVED

    a, b, c = desired(1), desired(2), desired(3)
    elsewhere = [replace(as_graph(x, f"old-{x.key.appointment_id}"), elsewhere=True) for x in (a, b, c)]
    plan = plan_mailbox([a, b], [as_graph(b, "zz-new-b"), *elsewhere], source=SOURCE)
    assert [x.key.appointment_id for x in plan.creates] == ["T-1"]
    assert plan.unchanged == 1  # the target's copy of T-2 is kept, though its id sorts after the old one
    assert {(d.event_id, d.reason) for d in plan.deletes} == {("old-T-1", MOVED), ("old-T-2", MOVED), ("old-T-3", GONE)}
    assert [d.event_id for d in plan.real_deletes] == ["old-T-3"]


def test_of_duplicates_the_smallest_id_stays_whatever_the_order_read():
    a = desired(1)
    for order in ([as_graph(a, "b"), as_graph(a, "a"), as_graph(a, "c")], [as_graph(a, "c"), as_graph(a, "a")]):
        plan = plan_mailbox([a], order, source=SOURCE)
        assert "a" not in {d.event_id for d in plan.deletes} and plan.real_deletes == []


def test_the_run_guard_holds_back_an_empty_window_and_a_run_losing_most_events():
    from oh_outlook_provider.sync.plan import run_guard

    events = [desired(i) for i in range(3)]
    small = plan_mailbox([], [as_graph(e) for e in events], source=SOURCE)  # 3 deletes: under mass_delete_min
    assert small.guard_message is None and len(small.real_deletes) == 3
    assert "returned no appointment at all" in run_guard([small], 0, PlanPolicy())
    assert run_guard([small], 0, PlanPolicy(allow_mass_delete=True)) is None
    assert run_guard([small], 1, PlanPolicy()) is None  # 3 deletes in the run: below the run's minimum too
    many = [plan_mailbox([], [as_graph(e)], source=SOURCE) for e in events] * 2  # 6 mailboxes, 1 of 1 each
    assert "whole run" in run_guard(many, 10, PlanPolicy())
    kept = plan_mailbox(events, [as_graph(e) for e in events], source=SOURCE)
    assert run_guard([*many[:2], kept, kept, kept], 10, PlanPolicy()) is None  # 2 of 11: normal churn
    many[0].block_real_deletes("held")
    assert many[0].deletes == [] and len(many[0].blocked_deletes) == 1 and many[0].guard_message == "held"


def test_deletes_a_mailbox_guard_held_back_still_count_for_the_run_guard():
    """Found with issue 14 item 4: big mailboxes tripped their own guard, so the run guard counted only
    the small mailboxes' deletes (under its share) and let those mailboxes lose every event."""
    from oh_outlook_provider.sync.plan import run_guard

    big = plan_mailbox([], [as_graph(desired(i)) for i in range(6)], source=SOURCE)
    assert big.guard_message and big.real_deletes == []
    small = plan_mailbox([], [as_graph(desired(9))], source=SOURCE)
    assert "(whole run): 7 of 7 events" in run_guard([big, small], 10, PlanPolicy())


HOME = PostalAddress("Hauptstraße 5", "50667", "Köln")


@pytest.mark.parametrize("echo", [
    {"displayName": "Hauptstraße 5, 50667 Köln"},  # Graph left the address out
    {"displayName": "Hauptstraße 5, 50667 Köln", "locationType": "default", "uniqueId": "Hauptstraße 5, 50667 Köln",
     "uniqueIdType": "private", "address": {"street": "Hauptstraße 5", "city": "Köln", "state": "",
                                            "countryOrRegion": "Germany", "postalCode": "50667"}},
])
def test_how_graph_echoes_an_address_never_reads_as_an_outlook_edit(echo):
    d = desired(1, address=HOME)
    plan = plan_mailbox([d], [as_graph(d, location=echo)], source=SOURCE)
    assert plan.unchanged == 1 and plan.conflicts == [] and plan.writes == 0


def test_a_changed_country_updates_body_and_location_together():
    before = desired(1, address=HOME)
    after = desired(1, address=PostalAddress("Hauptstraße 5", "50667", "Köln", "Österreich"))
    plan = plan_mailbox([after], [as_graph(before)], source=SOURCE)
    assert [u.fields for u in plan.updates] == [("body", "location")]
    assert plan.updates[0].patch_body()["location"]["address"]["countryOrRegion"] == "Österreich"


# ---------------------------------------------------------------- issue 21: the upgrade to canonical texts
def written_by_0_3(d, subject: str, shown: str | None = None):
    """The event 0.3 wrote for `d`: its subject as 0.3 sent it (title.strip()[:255]), hashed as 0.3 did;
    `shown`: the subject a user typed over it in Outlook since."""
    old_texts = list(d.texts)
    old_texts[fingerprint.MANAGED.index("subject")] = subject.strip()
    fields = dict(d.fields, subject=subject if shown is None else shown)
    return ExistingEvent.from_graph({
        "id": f"ev-{d.key.appointment_id}", **fields,
        "singleValueExtendedProperties": [
            {"id": SOURCE_PROP, "value": SOURCE}, {"id": KEY_PROP, "value": str(d.key)},
            {"id": FINGERPRINT_PROP, "value": fingerprint.encode(fingerprint.stamp(tuple(old_texts)))}],
    })


@pytest.mark.parametrize("policy", ["overwrite", "keep", "fail"])
def test_after_the_upgrade_only_events_whose_canonical_text_changed_are_rewritten_once(policy):
    plain, broken = desired(1, title="Wartung Heizung"), desired(2, title="Montage\nKüche Block B")
    plan = plan_mailbox([plain, broken], [written_by_0_3(plain, "Wartung Heizung"),
                                          written_by_0_3(broken, "Montage\nKüche Block B")],
                        PlanPolicy(on_outlook_edit=policy), source=SOURCE)
    assert plan.conflicts == [] and plan.unchanged == 1  # 0.3's own value is no Outlook edit
    assert [(u.event_id, u.fields, u.patch_body()["subject"]) for u in plan.updates] == [
        ("ev-T-2", ("subject",), "Montage Küche Block B")]


def test_an_outlook_edit_of_a_0_3_event_is_still_an_edit():
    broken = desired(2, title="Montage\nKüche")
    plan = plan_mailbox([broken], [written_by_0_3(broken, "Montage\nKüche", shown="Privat")],
                        PlanPolicy(on_outlook_edit="fail"), source=SOURCE)
    assert [(c.fields, c.resolution) for c in plan.conflicts] == [(("subject",), "failed")]


# ---------------------------------------------------------------- issue 25: unchanged without rendering
def test_an_unchanged_appointment_is_recognised_without_rendering_it():
    written, again = desired(1), desired(1)  # the run that wrote the event, and the next run's
    plan = plan_mailbox([again], [as_graph(written)], source=SOURCE)
    assert (plan.unchanged, plan.writes, plan.conflicts) == (1, 0, [])
    assert again.rendering._digests is None  # decided by the source digest: nothing was rendered


def test_an_event_written_before_source_digests_is_rendered_and_compared_as_before():
    written = desired(1)
    again = desired(1)
    plan = plan_mailbox([again], [as_graph(written, src=False)], source=SOURCE)
    assert (plan.unchanged, plan.writes) == (1, 0) and again.rendering._digests is not None
    changed = plan_mailbox([desired(1, title="anders")], [as_graph(written, src=False)], source=SOURCE)
    assert [u.fields for u in changed.updates] == [("subject",)]


def test_an_outlook_edit_is_found_although_the_appointment_is_unchanged():
    written, again = desired(1), desired(1)
    plan = plan_mailbox([again], [as_graph(written, subject="Privat")], PlanPolicy(on_outlook_edit="keep"),
                        source=SOURCE)
    assert [(c.fields, c.resolution) for c in plan.conflicts] == [(("subject",), "kept")] and plan.unchanged == 0


def test_what_an_update_writes_holds_the_source_digest_of_the_new_rendering():
    written, wanted = desired(1), desired(1, title="Neu")
    [update] = plan_mailbox([wanted], [as_graph(written)], source=SOURCE).updates
    [stored] = [p["value"] for p in update.patch_body()["singleValueExtendedProperties"] if p["id"] == FINGERPRINT_PROP]
    assert fingerprint.decode(stored)[fingerprint.SRC] == wanted.source_digest != written.source_digest


def _appointment(**changes):
    base = Appointment(id="T-1", title="Termin", start=dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN),
                       end=dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN), employee_ids=("M-1",))
    return dataclasses.replace(base, **changes)


WIEN = PostalAddress("Ring 1", "1010", "Wien", "Österreich")


class _address_part:  # noqa: N801 - reads as the change it is in CHANGES
    """A change of one part of the appointment's address (of HOME's when it has none)."""

    def __init__(self, **part):
        self.part = part

    def __call__(self, appointment):
        return {"address": dataclasses.replace(appointment.address or HOME, **self.part)}

    def __repr__(self):
        return f"address part {self.part}"
AUTUMN = dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)  # 02:30 twice that night: fold 0 and fold 1
# Changes of one thing each, that rendering may or may not see: drawn together, they make appointments
# that differ in a field or two (and as often in none), so that equal source digests are common.
CHANGES = [
    {"title": "Termin "}, {"title": "Montage\nKüche"}, {"title": ""}, {"title": "🔧" * 130},
    {"description": "Bitte klingeln"}, {"description": "Bitte klingeln "},
    {"location": "Hauptstraße 5, 50667 Köln"}, {"location": HOME.display(), "address": HOME},
    {"location": HOME.display(), "address": dataclasses.replace(HOME, country="Deutschland")},
    {"location": WIEN.display(), "address": WIEN}, _address_part(street="Hauptstraße 7"),
    _address_part(postal_code="50668"), _address_part(city="Kölle"), _address_part(country="Deutschland"),
    {"customer": "Bäckerei"}, {"project_number": "P-1"},
    {"category": "Wartung"}, {"category": "wartung"}, {"category": "Urlaub"}, {"category": "Frei"},
    {"start": dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN), "all_day": False},
    {"start": dt.datetime(2026, 3, 2, 8, 0, 30, tzinfo=BERLIN), "all_day": False},  # rendered to the minute
    {"start": dt.datetime(2026, 3, 2, 8, tzinfo=dt.timezone(dt.timedelta(hours=1))), "all_day": False},  # same instant
    {"start": dt.datetime(2026, 3, 2, 8), "all_day": False},  # naive
    {"start": dt.datetime(2026, 3, 2, 8, tzinfo=dt.timezone(dt.timedelta(hours=2))), "all_day": False},  # other instant
    {"start": AUTUMN, "end": AUTUMN + dt.timedelta(hours=2), "all_day": False},
    {"start": AUTUMN.replace(fold=1), "end": AUTUMN + dt.timedelta(hours=2), "all_day": False},
    {"end": dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN), "all_day": False},
    {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 3, 3), "all_day": True},
    {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 3, 4), "all_day": True}, {"all_day": False}, {"all_day": True},
    {"timezone": "Asia/Tokyo"}, {"employee_ids": ("M-1", "M-2")}, {"status": "geplant"}, {"cancelled": True},
    {"dropped": ("employees entry 2 is a NoneType: left out",)},
]
OPTIONS = [
    RenderOptions(), RenderOptions(web_url="https://app.oh.de"), RenderOptions(category_map={"Wartung": "Blau"}),
    RenderOptions(category_map={"wartung": "Blau"}), RenderOptions(category_map={"Urlaub": ""}),
    RenderOptions(categories=False), RenderOptions(reminder_minutes=None), RenderOptions(reminder_minutes=30),
    RenderOptions(show_as="tentative"), RenderOptions(show_as_map={"wartung": "free"}),
    RenderOptions(sensitivity="private"), RenderOptions(sensitivity_map={"urlaub": "normal"}),
    RenderOptions(map_url=None), RenderOptions(map_url="https://maps.example/?q={query}")]
OUTLOOK_EDITS = [{}, {"subject": "Privat"}, {"showAs": "free"}, {"categories": ["Rot"]}, {"isReminderOn": False},
                 {"location": {"displayName": "anderswo"}}, {"body": {"contentType": "html", "content": "<p>x</p>"}}]


def _changed(appointment, changes):
    for change in changes:
        appointment = dataclasses.replace(appointment, **(change(appointment) if callable(change) else change))
    return appointment


def _outcome(plan):
    return (plan.counts(), [(u.event_id, u.fields) for u in plan.updates],
            [(c.fields, c.resolution) for c in plan.conflicts])


@settings(max_examples=1000, deadline=None)
@given(before=st.lists(st.sampled_from(CHANGES), max_size=2), after=st.lists(st.sampled_from(CHANGES), max_size=1),
       options=st.lists(st.sampled_from(OPTIONS), min_size=1, max_size=2),
       edit=st.one_of(st.just({}), st.sampled_from(OUTLOOK_EDITS)), policy=st.sampled_from(POLICIES))
def test_the_source_digest_shortcut_plans_what_the_digests_alone_plan(before, after, options, edit, policy):
    """Issue 25. An appointment written with some options and maybe edited in Outlook since, then the same
    appointment, maybe changed, with the same or other options: the plan is the one made without the
    shortcut (the event's fingerprint without the source digest), and the shortcut takes for unchanged
    only an event that would render equal, Graph JSON and all."""
    written_as, wanted_as = _changed(_appointment(), before), _changed(_appointment(), before + after)
    if any(a.all_day and (isinstance(a.start, dt.datetime) or isinstance(a.end, dt.datetime))
           for a in (written_as, wanted_as)):
        return  # rejected before rendering (render_each)
    written = render(written_as, "M-1", SOURCE, options[0])
    wanted, reference = (render(wanted_as, "M-1", SOURCE, options[-1]) for _ in range(2))
    plan = plan_mailbox([wanted], [as_graph(written, **edit)], PlanPolicy(on_outlook_edit=policy), source=SOURCE)
    without = plan_mailbox([reference], [as_graph(written, src=False, **edit)], PlanPolicy(on_outlook_edit=policy),
                           source=SOURCE)
    assert _outcome(plan) == _outcome(without)
    if plan.unchanged and wanted.rendering._digests is None:  # taken for unchanged without rendering
        assert wanted.texts == written.texts and wanted.fields == written.fields


@pytest.mark.parametrize("options", [
    RenderOptions(category_map={"Wartung": "Blau"}), RenderOptions(categories=False), RenderOptions(show_as="free"),
    RenderOptions(show_as_map={"wartung": "tentative"}), RenderOptions(sensitivity_map={"wartung": "private"}),
    RenderOptions(reminder_minutes=5), RenderOptions(web_url="https://app.oh.de"), RenderOptions(map_url=None)])
def test_a_changed_option_updates_events_whose_rendering_it_changes(options):
    appointment = _appointment(category="Wartung", location=HOME.display(), address=HOME)
    written, wanted = render(appointment, "M-1", SOURCE, RenderOptions()), render(appointment, "M-1", SOURCE, options)
    plan = plan_mailbox([wanted], [as_graph(written)], source=SOURCE)
    assert plan.unchanged == 0 and len(plan.updates) == 1 and plan.updates[0].fields
