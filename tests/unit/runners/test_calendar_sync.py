"""The engine's order of work, driven over an in-memory mailbox store (vdirsyncer's memory storage).

The store keeps each event as the body we sent (fields and tags), which is what Graph echoes for
the fields we manage; Graph's own behaviour is the sandbox's to emulate (tests/integration).
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import threading
from dataclasses import dataclass, field

import pytest

from oh_outlook_provider.exceptions import GraphError, OpenHandwerkError
from oh_outlook_provider.runners.calendar_sync import CalendarSync, SyncOptions, collector_paused
from oh_outlook_provider.runners.mailbox import CategoriesAdded, Reading, Written
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.plan import Create, Delete, ExistingEvent, PlanPolicy, Update
from oh_outlook_provider.sync.tags import source_id

BERLIN = dt.timezone(dt.timedelta(hours=1))
WINDOW = Window(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
SOURCE = source_id("4711")
ANNA, BERT = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
MAPPING = {"e1": {"user_id": ANNA, "upn": "anna@example.com"}, "e2": {"user_id": BERT, "upn": "bert@example.com"}}


def appointment(app_id: str, day: int, *employees: str, **fields) -> Appointment:
    start = dt.datetime(2026, 12, day, 8, tzinfo=BERLIN)
    return Appointment(app_id, f"Termin {app_id}", start, start + dt.timedelta(hours=2), category="Baustelle",
                       employee_ids=employees or ("e1",), **fields)


@dataclass
class MemoryStore:
    """Our events per mailbox, as the bodies we wrote; ids ascend as Exchange's do not need to."""

    events: dict[str, dict[str, dict]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    refuse: set[str] = field(default_factory=set)  # appointment ids Graph refuses (400)
    fail_mailbox: str | None = None
    reused_once: set[str] = field(default_factory=set)  # creates answered ErrorDuplicateTransactionId once
    before_read_back: list = field(default_factory=list)  # callables run before a read-back (an overlapping run)
    writes: list[tuple[str, str]] = field(default_factory=list)
    categories: list[dict] | None = field(default_factory=list)

    def _existing(self, mailbox: str) -> list[ExistingEvent]:
        return [ExistingEvent.from_graph({"id": i, **body}) for i, body in self.events.get(mailbox, {}).items()]

    def read(self, mailbox: str, window: Window) -> Reading:
        if mailbox == self.fail_mailbox:
            raise GraphError(f"GET /users/{mailbox}/events failed with HTTP 503", 503)
        existing = [e for e in self._existing(mailbox) if e.start_utc and window.contains(e.start_utc)]
        return Reading(mailbox, {}, existing, bool(self.events.get(mailbox)), [], self.categories)

    def read_backs(self, asked) -> list:
        return [self.read_back(reading, created) for reading, created in asked]

    def find(self, reading: Reading, keys) -> list[ExistingEvent]:
        return [e for e in self._existing(reading.target) if e.key in set(keys)]

    def read_back(self, reading: Reading, created) -> list[ExistingEvent]:
        while self.before_read_back:
            self.before_read_back.pop()()
        return self._existing(reading.target)

    def write(self, mailbox: str, reading: Reading, actions, salt: str) -> list[Written]:
        out = []
        for action in actions:
            self.writes.append((mailbox, type(action).__name__))
            events = self.events.setdefault(mailbox, {})
            if action.key is not None and action.key.appointment_id in self.refuse:
                out.append(Written(action, "refused", GraphError("ErrorInvalidRequest", 400, "ErrorInvalidRequest")))
            elif isinstance(action, Create) and action.key.appointment_id in self.reused_once:
                self.reused_once.discard(action.key.appointment_id)
                out.append(Written(action, "reused", GraphError("dup", 400, "ErrorDuplicateTransactionId")))
            elif isinstance(action, Create):
                events[f"id{next(self.ids)}"] = action.desired.create_body(salt)
                out.append(Written(action, "done"))
            elif isinstance(action, Update):
                events[action.event_id] = {**events[action.event_id], **action.patch_body()}
                out.append(Written(action, "done"))
            elif isinstance(action, Delete):
                out.append(Written(action, "done" if events.pop(action.event_id, None) else "gone"))
        return out

    def add_categories(self, mailbox, bodies, colors) -> CategoriesAdded:
        self.categories = [*(self.categories or []), *bodies]
        return CategoriesAdded(len(bodies), forbidden=False)


class Stats:
    def as_dict(self) -> dict[str, int]:
        return {"requests": 0}


class Graph:
    stats = Stats()


@dataclass
class OpenHandwerk:
    records: list
    single: dict = field(default_factory=dict)
    openhandwerk_conn_id: str = "openhandwerk_default"
    asked: list = field(default_factory=list)
    requests_made: int = 0

    def iter_appointments(self, start, end):
        return iter(self.records)

    def get_appointment(self, appointment_id):
        self.asked.append(appointment_id)
        return self.single.get(appointment_id, next((r for r in self.records if r.id == appointment_id), None))


def run(store: MemoryStore, records: list, **options) -> dict:
    oh = options.pop("openhandwerk", None) or OpenHandwerk(records)
    opts = SyncOptions(window=WINDOW, source=SOURCE, salt=options.pop("salt", "run-1"), **options)
    return CalendarSync(Graph(), oh, MAPPING, opts, store=store).run()


def test_first_run_creates_rerun_changes_nothing():
    store = MemoryStore()
    records = [appointment("1", 2), appointment("2", 3, "e1", "e2")]
    first = run(store, records)
    assert first["totals"]["create"] == 3 and not first["failed"]
    assert first["mailboxes"][ANNA]["counts"]["create"] == 2 and first["mailboxes"][BERT]["upn"] == "bert@example.com"
    second = run(store, records, salt="run-2")
    assert second["totals"]["unchanged"] == 3
    assert sum(second["totals"].get(k, 0) for k in ("create", "update", "delete")) == 0


def test_a_changed_appointment_is_updated_and_a_gone_one_deleted():
    store = MemoryStore()
    run(store, [appointment("1", 2), appointment("2", 3)])
    report = run(store, [appointment("1", 2, description="Neu")], salt="run-2")
    assert report["totals"]["update"] == 1 and report["totals"]["delete"] == 1
    assert [b["subject"] for b in store.events[ANNA].values()] == ["Termin 1"]


def test_an_appointment_moved_out_of_the_window_is_kept_current_not_deleted():
    store = MemoryStore()
    run(store, [appointment("1", 2)])
    moved = appointment("1", 20)  # now after the window: the list no longer has it, the single path does
    oh = OpenHandwerk([appointment("9", 4)], single={"1": moved})
    report = run(store, [], openhandwerk=oh, salt="run-2")
    assert report["totals"]["delete"] == 0 and report["totals"]["update"] == 1
    assert oh.asked[0] == "9"  # the single-record path is proven with a record the list returned first


def test_a_single_record_path_that_answers_nothing_deletes_nothing():
    store = MemoryStore()
    run(store, [appointment("1", 2)])
    oh = OpenHandwerk([appointment("9", 4)])
    oh.get_appointment = lambda appointment_id: None  # a wrong path: 404 for everything
    report = run(store, [], openhandwerk=oh, salt="run-2")
    assert report["failed"] and "single-appointment path" in report["failed"][ANNA]
    assert len(store.events[ANNA]) == 1


def test_copies_an_overlapping_run_created_meanwhile_are_removed_keeping_the_smallest_id():
    store = MemoryStore()
    records = [appointment("1", 2)]

    def overlapping_run():  # another worker created the same event between our create and our read-back
        store.events[ANNA]["id001"] = dict(next(iter(store.events[ANNA].values())))

    store.before_read_back.append(overlapping_run)
    report = run(store, records, mailboxes=frozenset({ANNA}))
    assert list(store.events[ANNA]) == ["id001"]
    assert not report["failed"]


def test_a_reused_transaction_id_finds_the_event_instead_of_creating_a_second():
    store = MemoryStore()
    records = [appointment("1", 2)]
    run(store, records)
    store.events[ANNA].clear()
    store.reused_once.add("1")  # the earlier attempt's id: Exchange refuses it once
    report = run(store, records, salt="run-1")
    assert len(store.events[ANNA]) == 1 and not report["failed"]


def test_a_refused_event_is_a_rejected_record_and_the_others_are_written():
    store = MemoryStore(refuse={"2"})
    report = run(store, [appointment("1", 2), appointment("2", 3)])
    assert [r["record_id"] for r in report["rejected"]] == ["2"] and report["rejected"][0]["mailbox"] == ANNA
    assert report["totals"]["rejected"] == 1 and len(store.events[ANNA]) == 1 and not report["failed"]


def test_one_mailbox_failing_never_stops_the_others():
    store = MemoryStore(fail_mailbox=BERT)
    report = run(store, [appointment("1", 2, "e1", "e2")])
    assert set(report["failed"]) == {BERT} and "503" in report["failed"][BERT]
    assert report["mailboxes"][ANNA]["status"] == "ok" and len(store.events[ANNA]) == 1


def test_the_run_guard_holds_back_every_delete_when_openhandwerk_answers_nothing():
    store = MemoryStore()
    run(store, [appointment(str(i), 2 + i % 5) for i in range(12)])
    report = run(store, [], salt="run-2")
    assert report["totals"]["delete"] == 0 and report["totals"]["delete_blocked"] == 12
    assert len(store.events[ANNA]) == 12 and report["failed"]
    allowed = run(store, [], salt="run-3", policy=PlanPolicy(allow_mass_delete=True))
    assert allowed["totals"]["delete"] == 12 and not store.events[ANNA]


def test_dry_run_writes_nothing_and_reports_the_plan():
    store = MemoryStore()
    report = run(store, [appointment("1", 2)], dry_run=True)
    assert report["dry_run"] and report["totals"]["create"] == 1 and not store.writes


def test_rejected_records_of_the_read_are_reported_once():
    store = MemoryStore()
    report = run(store, [appointment("1", 2), Rejected("7", "appointment without a start")])
    assert report["rejected"] == [{"record_id": "7", "reason": "appointment without a start", "mailbox": None}]


def test_categories_missing_from_the_master_list_are_added_without_the_permission_noted_once():
    store = MemoryStore()
    report = run(store, [appointment("1", 2)])
    assert [c["displayName"] for c in store.categories] == ["Baustelle"] and not report["notes"]
    unreadable = MemoryStore(categories=None)  # 403 on the list: no MailboxSettings permission
    report = run(unreadable, [appointment("1", 2, "e1", "e2")])
    assert len(report["notes"]) == 1 and "MailboxSettings.ReadWrite" in report["notes"][0]


def test_the_category_list_is_brought_up_to_date_beside_the_writes_not_before_them():
    """Issue 25: adding categories is a round trip of its own; the writes do not wait for it."""
    writing = threading.Event()

    class Overlapping(MemoryStore):
        overlapped: bool = False

        def write(self, mailbox, reading, actions, salt):
            writing.set()
            return super().write(mailbox, reading, actions, salt)

        def add_categories(self, mailbox, bodies, colors):
            self.overlapped = writing.wait(5)  # before the change: the writes started only after this returned
            return super().add_categories(mailbox, bodies, colors)

    store = Overlapping()
    report = run(store, [appointment("1", 2)])
    assert store.overlapped and [c["displayName"] for c in store.categories] == ["Baustelle"]
    assert report["totals"]["categories_added"] == 1 and not report["failed"]


def test_the_mailbox_with_the_most_writes_starts_writing_first():
    """Issue 25: its writes set the run's end; the report keeps the mailboxes' order."""
    store = MemoryStore()
    report = run(store, [appointment("1", 2), *(appointment(str(i), 3, "e2") for i in range(2, 6))], max_workers=1)
    assert [m for m, _ in store.writes][:1] == [BERT] and store.writes.count((BERT, "Create")) == 4
    assert list(report["mailboxes"]) == [ANNA, BERT]


def test_a_failure_adding_categories_still_fails_its_mailbox_after_the_writes():
    class Broken(MemoryStore):
        def add_categories(self, mailbox, bodies, colors):
            raise GraphError("POST /outlook/masterCategories failed with HTTP 503", 503)

    store = Broken()
    report = run(store, [appointment("1", 2)])
    assert "HTTP 503" in report["failed"][ANNA] and store.writes == [(ANNA, "Create")]


def test_an_event_graph_fails_to_write_fails_its_mailbox_with_the_reason():
    class Failing(MemoryStore):
        def write(self, mailbox, reading, actions, salt):
            return [Written(a, "failed", GraphError("POST /events failed with HTTP 500", 500)) for a in actions]

    report = run(Failing(), [appointment("1", 2)])
    assert "1 write(s) failed" in report["failed"][ANNA]


def test_the_lookup_error_names_the_connection():
    oh = OpenHandwerk([appointment("9", 4)], openhandwerk_conn_id="oh_kunde_b")
    oh.get_appointment = lambda appointment_id: None
    store = MemoryStore()
    run(store, [appointment("1", 2)])
    with pytest.raises(OpenHandwerkError, match="oh_kunde_b"):
        from oh_outlook_provider.runners.records import AppointmentLookup

        lookup = AppointmentLookup(oh)
        list(lookup.noting(oh.records))
        lookup.get("1")


class Unreachable(OpenHandwerk):
    def iter_appointments(self, start, end):
        raise OpenHandwerkError("openHandwerk is down")


def test_the_collector_is_paused_during_a_run_and_back_on_after_it_even_when_it_fails():
    seen = []

    class Watching(MemoryStore):
        def read(self, mailbox, window):
            seen.append(gc.isenabled())
            return super().read(mailbox, window)

    assert gc.isenabled()
    run(Watching(), [appointment("1", 2)])
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(OpenHandwerkError), collector_paused():
        assert not gc.isenabled()
        run(Watching(), [], openhandwerk=Unreachable([]))  # nested: the outer block turns it back on
    assert gc.isenabled()
    gc.disable()
    try:
        run(Watching(), [appointment("1", 2)])
        assert not gc.isenabled()  # off before the run: left off
    finally:
        gc.enable()


def test_what_a_run_allocated_is_not_traversed_again_by_the_collectors_next_young_pass():
    """Issue 25: turned back on, the collector's next pass would walk every container the run made."""
    assert gc.isenabled()
    with collector_paused():
        kept = [[i] for i in range(50_000)]  # the run's data: still referenced when the run ends
        assert len(gc.get_objects(generation=0)) >= 50_000
    young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))  # what a young pass walks
    assert gc.isenabled() and young < 5_000, young
    assert kept[-1] == [49_999]


def test_objects_frozen_before_the_first_run_stay_frozen():
    """Review of issue 25: Airflow's LocalExecutor and Celery freeze the heap before forking workers."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            pass
        assert gc.isenabled() and gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()
