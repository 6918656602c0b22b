"""Random histories in the spirit of vdirsyncer: openHandwerk changes (ids with any printable character,
hostile records), Outlook edits, foreign events, faults, expiring tokens, overlapping runs and
calendar_name changes; titles, locations and categories of any text (emoji, combining marks, CR/LF,
tabs, zero-width characters, 300+ characters). After every clean run, and right after overlapping runs
end, the calendars equal the desired state exactly: each desired event once, in the target calendar; no
foreign event changed; no invitation; no write outside the mapped mailboxes; and a rerun writes
nothing, under every way Exchange may keep texts and times (tests/conftest.py STORES, issue 21)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from devtools.sandbox import control
from devtools.sandbox.events import store_event
from devtools.sandbox.state import Faults
from oh_outlook_provider.sync.models import Window
from tests.conftest import BASE_DATE, STORES, graph_hook, oh_hook
from tests.integration.sync_helpers import (
    SOURCE,
    WINDOW,
    assert_converged,
    assert_in_target,
    mapping_for,
    overlapping,
    sync,
    writes,
)

PRINTABLE_ID = st.text(st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1,
                       max_size=10).filter(lambda t: t.strip() and t.isprintable())
HOSTILE = [  # records openHandwerk should never send; each is rejected alone, the run goes on
    {"employees": 1.5}, {"employees": [["M-001"]]}, {"start": "0001-01-01T00:30:00", "end": "0001-01-01T01:30:00"},
    {"start": "9999-12-31T23:00:00", "end": "9999-12-31T23:30:00"}, {"start": 20260321}, {"title": {"x": 1}},
    {"allDay": True, "start": "2026-03-21T00:00:00+05:00", "end": "2026-03-21T00:00:00+05:00"},
]
# Text as people type it and openHandwerk passes it on: any character, and the pieces Exchange may keep
# differently (rows E7, E8): emoji (two UTF-16 units, modifiers, joiners, flags), combining marks, CR/LF,
# tabs, zero-width characters, and more than 255 UTF-16 units.
PIECES = ["Wartung", " ", "Öl", "🔧", "👍🏽", "👨‍👩‍👧", "🇩🇪", "e\u0301", "a\u0308\u0323", "\r\n", "\n", "\t", "\u200b",
          "\u200d", "\ufeff", "  ", "x" * 40]
TEXT = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=40).map("".join),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.integers(256, 400).map(lambda n: ("Heizung🔧 e\u0301\t" * 40)[:n]),  # 300+ code points, more units
)
CALENDARS = [None, "openHandwerk", "Termine"]
EMPLOYEES = ["M-001", "M-002", "M-003", "M-004", "M-005", "M-011", "M-012"]  # M-005 has no mailbox
DAYS = [Window(dt.datetime.combine(BASE_DATE + dt.timedelta(days=d), dt.time(), dt.UTC),
               dt.datetime.combine(BASE_DATE + dt.timedelta(days=d + 1), dt.time(), dt.UTC)) for d in (-2, 0, 3)]


class SyncMachine(RuleBasedStateMachine):
    server = None
    shared = None

    @initialize(texts=st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=3, max_size=3))
    def start(self, texts):
        self.state = self.server.state
        self.state.reload(seed=11, base_date=BASE_DATE, employees=12, appointments_per_employee=3, faults=None,
                          latency_ms=0.0, jitter_ms=0.0, limits=None, access_policy=True)
        cls = type(self)
        if cls.shared is None:  # same seed, same tenant: one mapping and one set of hooks for all histories
            cls.shared = {"mapping": mapping_for(self.server), "graph": graph_hook(self.server),
                          "openhandwerk": oh_hook(self.server),
                          "faulty": graph_hook(self.server, request_timeout=0.1)}
        self.mapping = cls.shared["mapping"]
        self.hooks = {"graph": cls.shared["graph"], "openhandwerk": cls.shared["openhandwerk"]}
        self.mailboxes = sorted({m["user_id"] for m in self.mapping.values()})
        self.foreign: dict[str, dict] = {}
        self.counter = 0
        self.calendar_name: str | None = None
        for i, day in enumerate(DAYS):  # appointments sitting on the day windows the backfill rule moves
            start = day.start.replace(tzinfo=None) + dt.timedelta(hours=9)
            control.oh_change(self.state, "new", record={
                "id": f"T-D{i}", "title": texts[i][0], "address": texts[i][1], "category": texts[i][2],
                "employees": [EMPLOYEES[i]], "allDay": False,
                "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()})
        self.clean_sync(WINDOW)  # start from a synced tenant so Outlook-side rules have events to touch

    def _appointment_ids(self):
        # Prefer the appointments this history made: they sit on the day windows the runs use.
        made = sorted(a for a in self.state.appointments if a.startswith(("T-H", "T-D")))
        return made or sorted(a for a in self.state.appointments if not a.startswith("T-BAD"))

    def _our_events(self):
        return [(u, e["id"]) for u, events in sorted(self.state.events.items()) for e in events.values()
                if e["_props"].get("String {8c6b1f0e-3a52-4d1e-9f6a-6f68b2a7c0d4} Name ohSource") == SOURCE]

    # ---------------------------------------------------------------- openHandwerk side
    @rule(data=st.data(), who=st.lists(st.sampled_from(EMPLOYEES), min_size=1, max_size=2, unique=True),
          day=st.sampled_from([-2, 0, 3, 10, 40]), hour=st.integers(6, 18), all_day=st.booleans(), title=TEXT,
          place=TEXT, kind=st.one_of(st.just(""), TEXT))
    def oh_new(self, data, who, day, hour, all_day, title, place, kind):
        self.counter += 1
        start = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time(hour))
        record = {"id": f"T-H{self.counter}", "title": title, "address": place, "category": kind, "employees": who,
                  "allDay": all_day, "start": start.date().isoformat() if all_day else start.isoformat(),
                  "end": start.date().isoformat() if all_day else (start + dt.timedelta(hours=2)).isoformat()}
        control.oh_change(self.state, "new", record=record)

    @rule(ident=PRINTABLE_ID, who=st.sampled_from(EMPLOYEES), day=st.sampled_from([-2, 0, 3]))
    def oh_new_odd_id(self, ident, who, day):
        """Ids with any printable character ("|", "/", "#", "%", quotes, umlauts) round-trip."""
        start = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time(10))
        ident = f"T-H{ident}"
        if ident not in self.state.appointments:
            control.oh_change(self.state, "new", record={
                "id": ident, "title": f"Seltsam {ident}", "employees": [who], "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=1)).isoformat()})

    @rule(hostile=st.sampled_from(HOSTILE), day=st.sampled_from([-2, 0, 3]))
    def oh_hostile_record(self, hostile, day):
        self.counter += 1
        start = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time(9))
        record = {"id": f"T-BAD-H{self.counter}", "title": "kaputt", "employees": ["M-001"],
                  "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(), **hostile}
        control.oh_change(self.state, "new", record=record)

    @rule(data=st.data(), days=st.sampled_from([-5, -3, -2, 2, 3, 5, 40]), hours=st.integers(-2, 2))
    def oh_move(self, data, days, hours):
        ids = self._appointment_ids()
        if ids:
            control.oh_change(self.state, "move", data.draw(st.sampled_from(ids)), days=days, hours=hours)

    @rule(data=st.data(), title=TEXT)
    def oh_retitle(self, data, title):
        ids = self._appointment_ids()
        if ids:
            control.oh_change(self.state, "retitle", data.draw(st.sampled_from(ids)), title=title)

    @rule(data=st.data(), field=st.sampled_from(["address", "category"]), text=TEXT)
    def oh_retext(self, data, field, text):
        """A free-text location or a category (Terminart) of any text."""
        ids = self._appointment_ids()
        if ids:
            with self.state.lock:
                self.state.appointments[data.draw(st.sampled_from(ids))][field] = text

    @rule(data=st.data(), action=st.sampled_from(["cancel", "delete"]))
    def oh_remove(self, data, action):
        ids = self._appointment_ids()
        if ids:
            control.oh_change(self.state, action, data.draw(st.sampled_from(ids)))

    @rule(data=st.data(), who=st.lists(st.sampled_from(EMPLOYEES), min_size=0, max_size=2, unique=True))
    def oh_reassign(self, data, who):
        ids = self._appointment_ids()
        if ids:
            control.oh_change(self.state, "reassign", data.draw(st.sampled_from(ids)), employees=who)

    # ---------------------------------------------------------------- Outlook side
    @rule(data=st.data(), change=st.sampled_from([{"subject": "Privat überschrieben"}, {"showAs": "free"},
                                                  {"location": {"displayName": "anderswo"}}, {"categories": ["Rot"]},
                                                  {"categories": ["Rot", "rot", "Blau"]}]))
    def outlook_edit(self, data, change):
        events = self._our_events()
        if events:
            user, event_id = data.draw(st.sampled_from(events))
            control.outlook_edit(self.state, user, event_id, copy.deepcopy(change))

    @rule(data=st.data())
    def outlook_delete(self, data):
        events = self._our_events()
        if events:
            control.outlook_delete(self.state, *data.draw(st.sampled_from(events)))

    @rule(data=st.data(), day=st.integers(-5, 20))
    def foreign_event(self, data, day):
        user = data.draw(st.sampled_from(self.mailboxes))
        start = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time(12))
        cal = self.state.default_calendar(user)
        event = store_event(self.state, user, cal["id"], {
            "subject": "Fremdtermin", "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat(), "timeZone": "UTC"}})
        self.foreign[event["id"]] = copy.deepcopy(event)

    # ---------------------------------------------------------------- runs
    @rule(window=st.sampled_from([WINDOW, *DAYS]))
    def clean_sync(self, window, rerun=True):
        summary = sync(self.server, self.mapping, window=window, allow_mass_delete=True,
                       calendar_name=self.calendar_name, **self.hooks)
        assert summary["failed"] == {}, summary["failed"]
        assert_converged(self.server, self.mapping, window)
        self.only_mapped_mailboxes_written()
        if rerun:
            self.a_rerun_writes_nothing(window)

    def a_rerun_writes_nothing(self, window):
        """Issue 21: whatever Exchange kept of what the run wrote, the next run finds nothing to write."""
        again = sync(self.server, self.mapping, window=window, allow_mass_delete=True, calendar_name=self.calendar_name,
                     **self.hooks)
        assert (writes(again), again["totals"].get("conflict", 0), again["failed"]) == (0, 0, {}), again["totals"]

    @rule(name=st.sampled_from(CALENDARS))
    def change_calendar(self, name):
        """The admin changes calendar_name; the next run moves every event of ours there."""
        self.calendar_name = name
        self.clean_sync(WINDOW)
        assert_in_target(self.server, name)

    @rule(windows=st.sampled_from([(WINDOW, WINDOW), (WINDOW, DAYS[1]), (DAYS[0], WINDOW, DAYS[0])]))
    def overlapping_runs(self, windows):
        """Runs at once (the 15-minute sync, a backfill day, a retry beside a zombie), all reading before
        any writes: when they end, no duplicate is left, without waiting for a later run."""
        summaries = overlapping(self.server, self.mapping, list(windows), allow_mass_delete=True,
                                calendar_name=self.calendar_name)
        assert all(s["failed"] == {} for s in summaries), [s["failed"] for s in summaries]
        for window in set(windows):
            assert_converged(self.server, self.mapping, window)
        assert_in_target(self.server, self.calendar_name)
        self.only_mapped_mailboxes_written()

    @rule()
    def token_expires_mid_run(self):
        """The token expires between a `$batch` arriving and its sub-requests running."""
        self.state.faults.expire_token_in_batch = True
        self.clean_sync(WINDOW)

    @rule(data=st.data(), to_day=st.sampled_from(DAYS))
    def backfill_days_around_a_move(self, data, to_day):
        """Day runs are independent: an appointment moves from one day to another, both days are synced."""
        on_days = {}
        for a_id in self._appointment_ids():
            start = str(self.state.appointments[a_id].get("start") or "")[:10]
            for day in DAYS:
                if start == day.start.date().isoformat():
                    on_days[a_id] = day
        if not on_days:
            return
        appointment = data.draw(st.sampled_from(sorted(on_days)))
        source = on_days[appointment]
        control.oh_change(self.state, "move", appointment, days=(to_day.start - source.start).days)
        self.clean_sync(to_day)
        self.clean_sync(source)

    @rule()
    def faulty_sync(self):
        self.state.faults = Faults(p429=0.1, p503=0.1, p504=0.05, p_lost=0.03, p504_after=0.03, lost_delay=0.2)
        try:
            sync(self.server, self.mapping, graph=self.shared["faulty"], openhandwerk=self.hooks["openhandwerk"],
                 allow_mass_delete=True, calendar_name=self.calendar_name)
        finally:
            self.state.faults = Faults()

    def teardown(self):
        """Every history ends with clean runs over all windows: whatever happened, they converge."""
        if hasattr(self, "state"):
            for window in (*DAYS, WINDOW):  # the last run's rerun covers every day window too
                self.clean_sync(window, rerun=window is WINDOW)
            self.foreign_events_untouched_and_no_invitations()

    def only_mapped_mailboxes_written(self):
        written = {m for m, counts in self.state.stats()["requests"].items() if counts.get("write")}
        assert written <= set(self.mailboxes), written - set(self.mailboxes)

    @invariant()
    def foreign_events_untouched_and_no_invitations(self):
        if not hasattr(self, "state"):
            return
        for event_id, snapshot in self.foreign.items():
            user = next(u for u, events in self.state.events.items() if event_id in events)
            assert self.state.events[user][event_id] == snapshot
        assert self.state.counters.invitations_sent == 0


@pytest.fixture(params=list(STORES))
def every_store(shared_sandbox, request):
    """The session's server once per Graph behaviour and way Exchange keeps texts (STORES)."""
    shared_sandbox.state.reload(seed=11, base_date=BASE_DATE, employees=12, appointments_per_employee=3, faults=None,
                                latency_ms=0.0, jitter_ms=0.0, limits=None, access_policy=True, rbac_scope=False,
                                behaviour=STORES[request.param])
    return shared_sandbox


def test_random_histories_converge(every_store):
    SyncMachine.server, SyncMachine.shared = every_store, None
    run_state_machine_as_test(SyncMachine, settings=settings(
        max_examples=5, stateful_step_count=15, deadline=None, derandomize=True,  # x3 stores
        suppress_health_check=list(HealthCheck)))
