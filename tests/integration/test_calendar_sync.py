"""The calendar sync end to end against the sandbox: idempotence, propagation, policies, safety."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from airflow.sdk import ObjectStoragePath

from devtools.sandbox import control
from devtools.sandbox.state import CLIENT_SECRET, Faults
from oh_outlook_provider.openhandwerk.api import parse_appointment
from oh_outlook_provider.runners import appointments as snapshots
from oh_outlook_provider.runners.calendar_sync import CalendarSync, SyncOptions
from oh_outlook_provider.sync.models import Appointment, Window
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.selection import Selection
from oh_outlook_provider.sync.tags import KEY_PROP
from tests.conftest import graph_hook, oh_hook
from tests.integration.sync_helpers import (
    WINDOW,
    account_of,
    assert_converged,
    event_of,
    mapping_for,
    ours,
    overlapping,
    sync,
    writes,
)


def pick(sandbox, employee="M-001", all_day=False, window=WINDOW, solo=True):
    """A live appointment of `employee` starting in the window."""
    for record in sandbox.state.appointments.values():
        a = parse_appointment(record)
        if (isinstance(a, Appointment) and not a.cancelled and a.all_day == all_day and window.contains(a.start_utc())
                and employee in a.employee_ids and (not solo or len(a.employee_ids) == 1)):
            return a
    raise AssertionError("seed has no such appointment")


@pytest.fixture
def mapping(sandbox):
    return mapping_for(sandbox)


def test_initial_sync_then_rerun_writes_nothing(sandbox, mapping):
    first = sync(sandbox, mapping)
    assert first["totals"]["create"] == len(ours(sandbox)) > 20
    assert first["failed"] == {} and first["skipped"] == {}
    assert {r["record_id"] for r in first["rejected"]} == {"T-BAD-1", "T-BAD-2"}
    assert_converged(sandbox, mapping)
    sandbox.state.reset_counters()
    second = sync(sandbox, mapping)
    assert writes(second) == 0 and second["totals"]["unchanged"] == first["totals"]["create"]
    stats = sandbox.state.stats()
    assert all(counts.get("write", 0) == 0 for counts in stats["requests"].values())
    # one $batch (window page + probe) per mailbox, nothing else
    assert second["graph_requests"]["requests"] == len(mapping)


def test_each_openhandwerk_change_propagates(sandbox, mapping):
    sync(sandbox, mapping)
    moved, retitled, cancelled, deleted = (pick(sandbox, e) for e in ("M-001", "M-002", "M-003", "M-004"))
    reassigned = pick(sandbox, "M-011")
    control.oh_change(sandbox.state, "move", moved.id, hours=2)
    control.oh_change(sandbox.state, "retitle", retitled.id, title="Notdienst: Rohrbruch Küche")
    control.oh_change(sandbox.state, "cancel", cancelled.id)
    control.oh_change(sandbox.state, "delete", deleted.id)
    control.oh_change(sandbox.state, "reassign", reassigned.id, employees=["M-012"])
    new = copy.deepcopy(sandbox.state.appointments[moved.id]) | {"id": "T-NEW", "title": "Neuer Termin Müller"}
    control.oh_change(sandbox.state, "new", record=new)
    summary = sync(sandbox, mapping)
    assert summary["totals"]["create"] == 2 and summary["totals"]["update"] == 2 and summary["totals"]["delete"] == 3
    assert_converged(sandbox, mapping)
    _, event = event_of(sandbox, moved.id, "M-001")
    assert event["_start_utc"] == moved.start_utc() + dt.timedelta(hours=2)
    assert event_of(sandbox, retitled.id, "M-002")[1]["subject"] == "Notdienst: Rohrbruch Küche"
    assert event_of(sandbox, cancelled.id, "M-003") is None and event_of(sandbox, deleted.id, "M-004") is None
    assert event_of(sandbox, reassigned.id, "M-011") is None
    assert event_of(sandbox, reassigned.id, "M-012")[0] == mapping["M-012"]["user_id"]


def test_moved_out_of_the_window_is_updated_in_place_not_deleted(sandbox, mapping):
    sync(sandbox, mapping)
    a = pick(sandbox)
    before_id = event_of(sandbox, a.id, "M-001")[1]["id"]
    control.oh_change(sandbox.state, "move", a.id, days=60)
    summary = sync(sandbox, mapping)
    assert summary["totals"]["delete"] == 0 and summary["totals"]["update"] == 1
    _, event = event_of(sandbox, a.id, "M-001")
    assert event["id"] == before_id and event["_start_utc"] == a.start_utc() + dt.timedelta(days=60)
    assert_converged(sandbox, mapping)


def test_moved_into_another_window_never_duplicates(sandbox, mapping):
    """Backfill days run independently: an appointment moved from day 1 to day 2 keeps one event."""
    a = pick(sandbox)
    day = a.start_utc().date()
    day1 = Window(dt.datetime.combine(day, dt.time(), dt.UTC), dt.datetime.combine(day, dt.time(), dt.UTC)
                  + dt.timedelta(days=1))
    day2 = Window(day1.start + dt.timedelta(days=3), day1.end + dt.timedelta(days=3))
    sync(sandbox, mapping, window=day1)
    control.oh_change(sandbox.state, "move", a.id, days=3)
    sync(sandbox, mapping, window=day2)
    sync(sandbox, mapping, window=day1)
    assert max(ours(sandbox, None).values()) == 1
    assert_converged(sandbox, mapping, day2)
    assert event_of(sandbox, a.id, "M-001")[1]["_start_utc"] == a.start_utc() + dt.timedelta(days=3)


@pytest.mark.parametrize("policy", ["overwrite", "keep", "fail"])
def test_outlook_edit_policies(sandbox, mapping, policy):
    sync(sandbox, mapping)
    a = pick(sandbox)
    user, event = event_of(sandbox, a.id, "M-001")
    control.outlook_edit(sandbox.state, user, event["id"], {"subject": "Von Hand geändert"})
    summary = sync(sandbox, mapping, on_outlook_edit=policy)
    conflicts = summary["conflicts"]
    assert [(c["appointment_id"], c["fields"]) for c in conflicts] == [(a.id, ["subject"])]
    subject = event_of(sandbox, a.id, "M-001")[1]["subject"]
    if policy == "overwrite":
        assert subject == a.title and conflicts[0]["resolution"] == "overwritten"
        assert writes(sync(sandbox, mapping)) == 0
    else:
        assert subject == "Von Hand geändert"
    if policy == "fail":
        assert user in summary["failed"] and "edited in Outlook" in summary["failed"][user]


def test_event_deleted_in_outlook_is_recreated(sandbox, mapping):
    sync(sandbox, mapping)
    a = pick(sandbox)
    user, event = event_of(sandbox, a.id, "M-001")
    control.outlook_delete(sandbox.state, user, event["id"])
    assert sync(sandbox, mapping)["totals"]["create"] == 1
    assert_converged(sandbox, mapping)


def test_foreign_events_stay_byte_identical(sandbox, mapping):
    user = mapping["M-004"]["user_id"]
    private = {e["id"]: e for e in sandbox.state.mailbox_events(user) if not e["_props"]}
    assert len(private) == 2
    sync(sandbox, mapping)
    control.oh_change(sandbox.state, "reassign", pick(sandbox, "M-004").id, employees=["M-001"])
    sync(sandbox, mapping, allow_mass_delete=True)
    after = {e["id"]: e for e in sandbox.state.mailbox_events(user) if not e["_props"]}
    assert after == private


def test_interrupted_run_then_rerun_converges_without_duplicates(sandbox, mapping):
    graph = graph_hook(sandbox)
    real_batch, calls = graph.batch, []

    def dying_batch(items):
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("worker killed")
        return real_batch(items)

    graph.batch = dying_batch
    first = sync(sandbox, mapping, graph=graph, max_workers=2)
    assert len(first["failed"]) == 1 and "worker killed" in next(iter(first["failed"].values()))
    sync(sandbox, mapping)
    assert_converged(sandbox, mapping)


def test_lost_responses_and_5xx_are_retried_without_duplicates(sandbox, mapping):
    sandbox.state.reload(faults=Faults(p503=0.05, p504=0.05, p429=0.05, p_lost=0.05, p504_after=0.05, lost_delay=0.6))
    graph = graph_hook(sandbox, request_timeout=0.4)
    summary = sync(sandbox, mapping, graph=graph)
    faults = sandbox.state.stats()["faults"]
    assert faults.get("lost", 0) > 0 and sum(faults.values()) > 5
    sandbox.state.faults = Faults()
    if summary["failed"]:
        sync(sandbox, mapping)
    assert_converged(sandbox, mapping)


def test_mass_delete_guard_blocks_and_can_be_overridden(sandbox, mapping):
    sync(sandbox, mapping)
    user = mapping["M-001"]["user_id"]
    for a_id, record in list(sandbox.state.appointments.items()):
        if record.get("employees") == ["M-001"]:
            control.oh_change(sandbox.state, "delete", a_id)
    before = sum(1 for (m, _k) in ours(sandbox) if m == user)
    summary = sync(sandbox, mapping)
    assert user in summary["failed"] and "mass-delete guard" in summary["failed"][user]
    assert sum(1 for (m, _k) in ours(sandbox) if m == user) == before
    assert sync(sandbox, mapping, allow_mass_delete=True)["mailboxes"][user]["counts"]["delete"] >= 5
    assert_converged(sandbox, mapping)


def test_dry_run_writes_nothing(sandbox, mapping):
    summary = sync(sandbox, mapping, dry_run=True)
    assert summary["totals"]["create"] > 0 and not ours(sandbox, None)


def test_named_calendar_is_created_and_used(sandbox, mapping):
    summary = sync(sandbox, mapping, calendar_name="openHandwerk")
    assert summary["totals"]["create"] > 0
    user = mapping["M-001"]["user_id"]
    calendars = {c["id"]: c["name"] for c in sandbox.state.calendars[user].values()}
    ours_in = {e["_calendar"] for e in sandbox.state.mailbox_events(user) if e["_props"]}
    assert [calendars[c] for c in ours_in] == ["openHandwerk"]
    assert writes(sync(sandbox, mapping, calendar_name="openHandwerk")) == 0


def test_an_unreadable_record_never_deletes_its_event(sandbox, mapping):
    sync(sandbox, mapping)
    a = pick(sandbox)
    with sandbox.state.lock:
        sandbox.state.appointments[a.id]["end"] = "kaputt"
    summary = sync(sandbox, mapping)
    assert event_of(sandbox, a.id, "M-001") is not None and summary["totals"].get("delete", 0) == 0
    assert summary["failed"] == {}
    assert any(r["record_id"] == a.id and "not an ISO date" in r["reason"] for r in summary["rejected"])


def test_blocked_mailbox_is_skipped_and_others_continue(sandbox, mapping):
    blocked = sandbox.state.find_user("soeren.weiss@mueller-haustechnik.de").id
    summary = sync(sandbox, {**mapping, "M-010": {"user_id": blocked, "upn": "soeren.weiss@mueller-haustechnik.de"}})
    assert summary["mailboxes"][blocked]["status"] == "skipped" and summary["failed"] == {}
    assert summary["totals"]["create"] > 0


def test_summary_is_json_and_free_of_secrets(sandbox, mapping):
    text = json.dumps(sync(sandbox, mapping))
    assert CLIENT_SECRET not in text and "Bearer" not in text


def test_gateway_timeouts_after_writes_finish_in_one_run_without_duplicates(sandbox, mapping, monkeypatch):
    """Fidelity rows F2, X1, X2: a create whose 504 hid a success is sent again with the same
    transactionId; whether Graph returns the first event or refuses the repeat, the run ends
    exact, with no failed mailbox and no second copy."""
    sandbox.state.reload(faults=Faults(p504_after=0.15), behaviour=sandbox.state.behaviour)
    settled: list[int] = []
    settle = CalendarSync._settle_reused
    monkeypatch.setattr(CalendarSync, "_settle_reused",
                        lambda self, m, desired, *a: settled.append(len(desired)) or settle(self, m, desired, *a))
    summary = sync(sandbox, mapping)
    sandbox.state.faults = Faults()
    assert sandbox.state.stats()["faults"].get("504_after", 0) > 3
    assert summary["failed"] == {}
    assert all(r["record_id"].startswith("T-BAD") for r in summary["rejected"])
    assert_converged(sandbox, mapping)
    assert bool(settled) == (sandbox.state.behaviour.duplicate_transaction == "error")


def test_the_log_table_fits_the_log_view_and_its_rejected_counts_agree_with_the_lines(sandbox, mapping):
    """Issue 13 items 4 and 6: 'rejected 0' above lines listing T-BAD-1 and T-BAD-2; 117-character lines."""
    from oh_outlook_provider.runners.log_lines import WIDTH
    from oh_outlook_provider.runners.report import summary_table

    sync(sandbox, mapping)
    gone = sorted(ours(sandbox))[0][1].split("|")[1]
    sandbox.state.appointments[gone]["start"] = "kaputt"  # an event of ours whose record became unreadable
    summary = sync(sandbox, mapping)
    table = summary_table(summary)
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    listed = [line for line in table.splitlines() if line.startswith("rejected appointment")]
    total = next(line for line in table.splitlines() if line.startswith("total"))
    # T-BAD-1, T-BAD-2 and the broken record on reading; the broken record again for the mailbox whose event is kept
    assert int(total.split()[6]) == len(listed) == len(summary["rejected"]) == summary["totals"]["rejected"] == 4
    per_mailbox = sum(info["counts"].get("rejected", 0) for info in summary["mailboxes"].values())
    assert per_mailbox == 1 and "(openHandwerk records)" in table


def test_shards_on_one_shared_read_converge_without_reading_the_window_again(sandbox, mapping, tmp_path):
    """The run's one openHandwerk read (a file) feeds every shard; no shard reads the window itself and
    none reports the records rejected on reading (the read does, once)."""
    path = ObjectStoragePath(f"file://{tmp_path}/run.jsonl.gz")
    descriptor = snapshots.write(path, WINDOW, oh_hook(sandbox).iter_appointments(WINDOW.start, WINDOW.end))
    assert descriptor["rejected_total"] >= 1
    snapshot = snapshots.Snapshot.of(descriptor)
    mailboxes = sorted({m["user_id"] for m in mapping.values()})
    reads = sandbox.state.stats()["oh_window_reads"]
    summaries = []
    for shard in (mailboxes[0::2], mailboxes[1::2]):
        graph, openhandwerk = graph_hook(sandbox), oh_hook(sandbox)
        runner = CalendarSync(graph, openhandwerk, mapping,
                              SyncOptions(window=snapshot.window, salt="shared", mailboxes=frozenset(shard),
                                          **account_of(openhandwerk)),
                              snapshot.appointments)
        summaries.append(runner.run())
    assert sandbox.state.stats()["oh_window_reads"] == reads
    assert not [r for s in summaries for r in s["rejected"] if not r.get("mailbox")]
    assert_converged(sandbox, mapping, WINDOW)


def test_show_as_and_sensitivity_by_category_and_a_changed_map_updates_only_that_category(sandbox, mapping):
    """Issue 14 items 1 and 3: Urlaub is away and private by default; mapping Baustelle to workingElsewhere
    updates exactly the Baustelle events on the next run; a rerun writes nothing. The sandbox takes
    the values only as Graph's enums allow them (freeBusyStatus, sensitivity)."""
    sync(sandbox, mapping)

    def events_of(category: str) -> list[dict]:
        ids = {r["id"] for r in sandbox.state.appointments.values() if r.get("category") == category}
        return [e for events in sandbox.state.events.values() for e in events.values()
                if e["_props"].get(KEY_PROP, "||").split("|")[1] in ids]

    assert {(e["showAs"], e["sensitivity"]) for e in events_of("Urlaub")} == {("oof", "private")}
    assert {(e["showAs"], e["sensitivity"]) for e in events_of("Baustelle")} == {("busy", "normal")}
    site = RenderOptions(show_as_map={"urlaub": "oof", "krank": "oof", "baustelle": "workingElsewhere"})
    summary = sync(sandbox, mapping, render=site)
    assert summary["totals"]["update"] == len(events_of("Baustelle")) > 0
    assert {e["showAs"] for e in events_of("Baustelle")} == {"workingElsewhere"}
    assert writes(sync(sandbox, mapping, render=site)) == 0


def test_an_address_in_parts_is_navigable_and_follows_openhandwerk(sandbox, mapping):
    """Issue 14 item 2: street, postal code and city become `location.address` and a route link; a
    changed address updates that event only, an address taken away is cleared (also where Graph
    merges a PATCHed location, row E6); however Graph echoes the address (row E5), a rerun writes nothing."""
    moved, gone = (pick(sandbox, employee) for employee in ("M-001", "M-002"))
    sync(sandbox, mapping)
    event = event_of(sandbox, moved.id, "M-001")[1]
    assert event["location"]["displayName"] == moved.location
    assert event["location"]["address"]["street"] == moved.address.street
    assert "Route: https://www.google.com/maps/search/?api=1&amp;query=" in event["body"]["content"]

    sandbox.state.appointments[moved.id]["address"] |= {"zip": "10115", "city": "Berlin"}
    sandbox.state.appointments[gone.id]["address"] = "Büro"
    summary = sync(sandbox, mapping)
    assert summary["totals"]["update"] == 2 and writes(summary) == 2
    assert event_of(sandbox, moved.id, "M-001")[1]["location"]["address"]["city"] == "Berlin"
    cleared = event_of(sandbox, gone.id, "M-002")[1]["location"]
    assert cleared["displayName"] == "Büro" and not any((cleared.get("address") or {}).values())
    assert "Route:" not in event_of(sandbox, gone.id, "M-002")[1]["body"]["content"]
    assert writes(sync(sandbox, mapping)) == 0


def test_appointments_left_out_by_the_selection_are_removed_like_cancelled_ones(sandbox, mapping):
    """Issue 14 item 4: excluding a category and a status deletes exactly those events on the next
    run (including the copies of multi-employee appointments); a rerun writes nothing; narrowing the
    selection to almost nothing is held back by the mass-delete guard."""
    sync(sandbox, mapping)
    sandbox.state.appointments[pick(sandbox, "M-003").id]["status"] = "Angebot"
    records = [parse_appointment(r) for r in sandbox.state.appointments.values()]
    left_out = {a.id for a in records if isinstance(a, Appointment) and (a.category == "Wartung" or a.status == "Angebot")}
    before = {key.split("|")[1] for _, key in ours(sandbox)}
    selection = Selection.of(exclude_categories=["wartung"], exclude_statuses=["angebot"])
    summary = sync(sandbox, mapping, selection=selection)
    after = {key.split("|")[1] for _, key in ours(sandbox)}
    assert after == before - left_out and before & left_out
    assert summary["excluded"] > 0 and summary["totals"]["delete"] > 0 and summary["totals"]["create"] == 0
    assert writes(sync(sandbox, mapping, selection=selection)) == 0

    held = sync(sandbox, mapping, selection=Selection.of(include_categories=["Schulung"]))
    assert held["totals"]["delete"] == 0 and held["totals"]["delete_blocked"] > 0
    assert {key.split("|")[1] for _, key in ours(sandbox)} == after


def _master(sandbox, user_id: str) -> dict[str, str]:
    return {c["displayName"]: c["color"] for c in sandbox.state.master_categories[user_id].values()}


def test_without_mailbox_settings_events_carry_their_categories_and_the_run_says_once_what_colours_need(
        sandbox, mapping):
    """Issue 14 item 5, the guide's setup: no MailboxSettings permission. Categories are written as
    names, no master list is touched, and the run's summary carries one note with the fix."""
    before = {u: _master(sandbox, u) for u in sandbox.state.master_categories}
    summary = sync(sandbox, mapping)
    assert summary["failed"] == {} and summary["totals"]["create"] > 0
    assert len(summary["notes"]) == 1 and "MailboxSettings.ReadWrite" in summary["notes"][0]
    wartung = pick(sandbox)
    assert event_of(sandbox, wartung.id, "M-001")[1]["categories"] == [wartung.category]
    assert {u: _master(sandbox, u) for u in sandbox.state.master_categories} == before


def test_with_mailbox_settings_each_mailbox_gets_its_categories_in_colour_once(sandbox, mapping):
    """Issue 14 item 5: with MailboxSettings.ReadWrite every mapped mailbox's master list holds the
    categories its events carry, in the default colours; a category the user made ("baustelle", in
    her colour) is left as it is and not made twice; a rerun adds nothing and sends no category request."""
    control.grant(sandbox.state, "MailboxSettings.ReadWrite")
    summary = sync(sandbox, mapping)
    assert summary["notes"] == [] and summary["totals"]["categories_added"] > 0
    for user_id, events in sandbox.state.events.items():
        carried = {c for e in events.values() if e["_props"].get(KEY_PROP) for c in e["categories"]}
        master = _master(sandbox, user_id)
        assert {c.casefold() for c in carried} <= {m.casefold() for m in master}, user_id
        if "Urlaub" in carried:
            assert master["Urlaub"] == "preset4"
        if "baustelle" in master:  # the user's own: kept, her colour, no second "Baustelle"
            assert master["baustelle"] == "preset12" and "Baustelle" not in master
    assert any("baustelle" in _master(sandbox, u) for u in sandbox.state.master_categories)
    sandbox.state.reset_counters()
    again = sync(sandbox, mapping)
    assert "categories_added" not in again["totals"] and writes(again) == 0
    assert all(counts.get("write", 0) == 0 for counts in sandbox.state.stats()["requests"].values())


def test_overlapping_runs_adding_the_same_categories_leave_each_once(sandbox, mapping, caplog):
    """Both runs read an empty list, then both add: the second add is refused (409 or 400, row G1),
    read back and found; no warning, no duplicate category."""
    control.grant(sandbox.state, "MailboxSettings.ReadWrite")
    for categories in sandbox.state.master_categories.values():
        categories.clear()
    summaries = overlapping(sandbox, mapping, [WINDOW, WINDOW])
    assert all(not s["failed"] for s in summaries)
    for user_id in sandbox.state.master_categories:
        names = [c["displayName"].casefold() for c in sandbox.state.master_categories[user_id].values()]
        assert len(names) == len(set(names))
    assert "could not be added" not in caplog.text


def test_a_changed_category_map_or_route_link_updates_only_the_events_it_changes(sandbox, mapping):
    """Issue 14, done-when: renaming one category updates exactly its events; another route link
    updates exactly the events with an address; each rerun writes nothing."""
    sync(sandbox, mapping)
    carried = [c for events in sandbox.state.events.values() for e in events.values()
               if e["_props"].get(KEY_PROP) for c in e["categories"]]
    renamed = RenderOptions(category_map={"Wartung": "Service"})
    summary = sync(sandbox, mapping, render=renamed)
    assert summary["totals"]["update"] == carried.count("Wartung") > 0 and writes(summary) == carried.count("Wartung")
    assert writes(sync(sandbox, mapping, render=renamed)) == 0
    with_address = sum(1 for events in sandbox.state.events.values() for e in events.values()
                       if e["_props"].get(KEY_PROP) and any((e["location"].get("address") or {}).values()))
    osm = RenderOptions(category_map={"Wartung": "Service"}, map_url="https://www.openstreetmap.org/search?query={query}")
    assert sync(sandbox, mapping, render=osm)["totals"]["update"] == with_address > 0
    assert writes(sync(sandbox, mapping, render=osm)) == 0
