"""One calendar-sync run: the order of work, and nothing else.

Kept apart from the Airflow operator so tests, the demo and benchmarks drive the very same code.
What to write is decided by the pure core (`sync/`); how to ask Graph is the mailbox store's
(`runners/mailbox.py`); openHandwerk is read through an `AppointmentSource` (`runners/records.py`).
The order, as in vdirsyncer's `sync()`:

1. read every mailbox (our events in the target calendar's window, and copies of ours left in
   calendars that held them before a `calendar_name` change) while openHandwerk is read;
2. plan every mailbox with the pure core, then one mass-delete guard over the whole run;
3. apply each mailbox: creates, updates and deletes in one `$batch` (the category list is brought up
   to date beside it, in a request of its own); read back what was created (the mailboxes' read-backs
   sent together once every mailbox under way has asked: runners/read_backs.py),
   so that overlapping runs leave no duplicate behind; then remove the copies in other calendars
   whose event now exists in the target.

Mailboxes run in parallel; one mailbox failing never stops the others.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.graph.errors import APP_NAME
from oh_outlook_provider.i18n import carried
from oh_outlook_provider.runners.mailbox import GraphClient, MailboxStore, Reading
from oh_outlook_provider.runners.read_backs import SharedReadBacks
from oh_outlook_provider.runners.records import AppointmentLookup, AppointmentSource
from oh_outlook_provider.runners.report import MailboxResult, SyncReport, build_report
from oh_outlook_provider.sync.categories import COLOR_DEFAULTS, missing
from oh_outlook_provider.sync.desired import desired_state, events_for
from oh_outlook_provider.sync.event_kinds import casefolded
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.plan import (
    MOVED,
    Action,
    Create,
    ExistingEvent,
    Plan,
    PlanPolicy,
    duplicates,
    plan_mailbox,
    run_guard,
)
from oh_outlook_provider.sync.render import DesiredEvent, RenderOptions
from oh_outlook_provider.sync.selection import EVERYTHING, Selection
from oh_outlook_provider.sync.tags import EventKey

log = logging.getLogger(__name__)


def categories_note(permission: str) -> str:
    """The run's note when the app may not use the mailboxes' category lists (said once per run), in the
    admin's language."""
    from oh_outlook_provider.i18n import _  # the one function of this module that speaks to the admin

    return _("Category colours: without {permission} the app may not use the mailboxes' category lists, so events "
             "carry their categories (Terminart) without colour. Granting the optional application permission "
             "MailboxSettings.ReadWrite (App registrations > {app} > API permissions, with admin consent) lets each "
             "run add them to every mapped mailbox's category list in colour (Baustelle orange, Urlaub green, "
             "...).").format(permission=permission, app=APP_NAME)


_collector = {"runs": 0, "was_enabled": False, "frozen_before": 0}  # runs under way; the first one's findings
_collector_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector off while runs are under way; on again when the last ends (if
    it was on when the first began). No collection then: the run's data is still referenced there, and
    reference counting frees it once the run returns.

    A run builds about ten small containers per event (Graph's JSON, records, rendered events) that
    live until its end and form no reference cycle; the collector would traverse them again and again
    as they pile up: a fifth of a rerun's CPU for 200 mailboxes (measured with benchmarks.regimes'
    fleet). When the last run ends, what was allocated meanwhile goes to the oldest generation
    (`gc.freeze`, then `gc.unfreeze`), so the next young pass does not walk it all once more (~1 ms
    a mailbox); cycles made during the run wait for a full collection. Skipped when something else
    froze objects before (Airflow's LocalExecutor and Celery freeze before forking workers): unfreezing
    would hand their shared pages to the collector.
    """
    with _collector_lock:
        if _collector["runs"] == 0:
            _collector["was_enabled"] = gc.isenabled()
            _collector["frozen_before"] = gc.get_freeze_count()
            gc.disable()
        _collector["runs"] += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector["runs"] -= 1
            if _collector["runs"] == 0 and _collector["was_enabled"]:
                promote = not _collector["frozen_before"]
                if promote:
                    gc.freeze()
                gc.enable()
                if promote:
                    gc.unfreeze()


@dataclass(frozen=True)
class SyncOptions:
    """`source`: our tag of the openHandwerk account (`sync.tags.source_id(idKn)`); `zone`: the IANA
    zone of openHandwerk's wall-clock times (all-day events are read in it)."""

    window: Window
    source: str
    zone: str = "Europe/Berlin"
    calendar_name: str | None = None
    policy: PlanPolicy = PlanPolicy()
    render: RenderOptions = RenderOptions()
    dry_run: bool = False
    max_workers: int = 32  # mailboxes at once: Graph limits each mailbox, not how many an app serves
    read_page_size: int = 500
    salt: str = "manual"  # the Airflow run id: retries of a run share transactionIds
    mailboxes: frozenset[str] | None = None  # a shard: only these user ids
    selection: Selection = EVERYTHING  # which appointments go to Outlook (by category and status)
    # Colours of the categories the sync adds to a mailbox's master list (casefolded names).
    category_colors: Mapping[str, str] = field(default_factory=lambda: casefolded(COLOR_DEFAULTS))


@dataclass
class Prepared:
    """A mailbox read and planned, waiting for the run-level guard."""

    result: MailboxResult
    plan: Plan | None = None
    reading: Reading | None = None
    categories: frozenset[str] = frozenset()  # the category names this mailbox's events carry

    @property
    def ready(self) -> bool:
        """Read and planned: the mailbox goes on to its writes."""
        return self.plan is not None and self.reading is not None


class CalendarSync:
    """One run over the mapped mailboxes. `mapping`: employee id -> {"user_id", "upn"} (the user
    mapping's XCom); `appointments`: the run's one openHandwerk read of `options.window` (a snapshot
    every shard shares), None reads the window here. Rejected records of a shared read are the
    read's to report. `store`: the mailbox store (default: MailboxStore over `graph`; tests pass an
    in-memory one). `run()` returns the SyncReport."""

    def __init__(self, graph: GraphClient, openhandwerk: AppointmentSource, mapping: Mapping[str, Mapping[str, Any]],
                 options: SyncOptions, appointments: Callable[[], Iterable[Appointment | Rejected]] | None = None,
                 store: MailboxStore | None = None):
        self.graph, self.oh, self.appointments, self.options = graph, openhandwerk, appointments, options
        self.mapping = {emp: str(info["user_id"]) for emp, info in mapping.items() if info and info.get("user_id")}
        self.upn = {str(info["user_id"]): info.get("upn") for info in mapping.values() if info and info.get("user_id")}
        self.store = store or MailboxStore(graph, options.source, options.zone, options.calendar_name,
                                           options.read_page_size, options.dry_run, options.render.categories)
        self.records = AppointmentLookup(openhandwerk)
        self._read_backs = SharedReadBacks(self.store)  # the mailboxes' read-backs, sent together
        self._lock = threading.Lock()
        self._categories_note: str | None = None  # said once per run when the permission is missing

    def run(self) -> SyncReport:
        started = time.monotonic()
        opts = self.options
        mailboxes = sorted(set(self.mapping.values()))
        if opts.mailboxes is not None:
            mailboxes = [m for m in mailboxes if m in opts.mailboxes]
        with collector_paused(), \
                ThreadPoolExecutor(max(1, opts.max_workers), "mailbox", **carried()) as pool, \
                ThreadPoolExecutor(max(1, opts.max_workers), "categories", **carried()) as self._side:
            # Outlook is read while openHandwerk is read: the two services do not wait for each other.
            readings = {m: pool.submit(self.store.read, m, opts.window) for m in mailboxes}
            # Streamed page by page into the desired state; a failed read raises, it is never "no appointments".
            read = self.appointments() if self.appointments else self.oh.iter_appointments(opts.window.start,
                                                                                         opts.window.end)
            desired = desired_state(self.records.noting(read), self.mapping, opts.window, opts.source, opts.render,
                                    opts.selection)
            prepared = list(pool.map(lambda m: self._prepare(m, desired.by_mailbox.get(m, []), readings[m]),
                                     mailboxes))
            # Rejected records do not count as an answer: they cannot say which window they belong to.
            held_back = run_guard([p.plan for p in prepared if p.plan], desired.appointments, opts.policy)
            # The deepest mailbox first: its writes set the run's end. Reported in the mailboxes' (sorted) order.
            deepest_first = sorted(prepared, key=lambda p: -(p.plan.writes if p.plan else 0))
            self._read_backs.expect(0 if opts.dry_run else sum(p.ready for p in prepared))
            results = sorted(pool.map(lambda p: self._finish(p, held_back), deepest_first), key=lambda r: r.mailbox)
        return build_report(results, desired, opts.window, opts.source, opts.dry_run, self.graph.stats.as_dict(),
                            getattr(self.oh, "requests_made", None), time.monotonic() - started,
                            [self._categories_note] if self._categories_note else [])

    def _prepare(self, mailbox: str, desired: list[DesiredEvent], reading: Future) -> Prepared:
        result = MailboxResult(mailbox, self.upn.get(mailbox))
        try:
            read = reading.result()
            names = frozenset(n for d in desired for n in d.categories)
            return Prepared(result, self._plan(mailbox, list(desired), result, read), read, names)
        except Exception as exc:  # noqa: BLE001 - reported per mailbox, the task fails at the end
            result.fail(exc)
            return Prepared(result)

    def _finish(self, prepared: Prepared, held_back: str | None) -> MailboxResult:
        result, plan, reading = prepared.result, prepared.plan, prepared.reading
        if not prepared.ready:
            return result
        try:
            if held_back:
                plan.block_real_deletes(held_back)
            result.counts = plan.counts()
            result.conflicts = list(plan.conflicts)
            if not self.options.dry_run:  # the category list beside the writes: off their critical path
                categories = self._side.submit(self._ensure_categories, result.mailbox, reading, prepared.categories,
                                               result)
                self._apply(result.mailbox, plan, result, reading)
                categories.result()
            result.counts["rejected"] = len(result.rejected)  # the lines the report lists for this mailbox
            problems = plan.problems()
            if problems:
                result.status, result.error = "failed", problems
        except Exception as exc:  # noqa: BLE001 - reported per mailbox, the task fails at the end
            result.fail(exc)
        return result

    def _plan(self, mailbox: str, desired: list[DesiredEvent], result: MailboxResult, reading: Reading) -> Plan:
        wanted = {d.key for d in desired}
        protected: set[str] = set()
        # Events of ours the window's desired state does not name: moved out of the window (keep
        # them current), copies in another calendar of a still-live appointment (move them), or gone.
        for event in [*reading.existing, *reading.strays]:
            if event.key is None or event.key in wanted:
                continue
            moved = self._still_wanted(event, mailbox)
            if isinstance(moved, Rejected):
                protected.add(event.id)  # never delete because a record became unreadable
                result.rejected.append(moved)
            elif moved is not None:
                desired.append(moved)
                wanted.add(moved.key)
        existing = [e for e in [*reading.existing, *reading.strays] if e.id not in protected]
        in_target = {e.key for e in existing if not e.elsewhere}
        missing_keys = [d.key for d in desired if d.key not in in_target]
        if missing_keys and reading.any_ours:
            existing.extend(self.store.find(reading, missing_keys))
        return plan_mailbox(desired, existing, self.options.policy, self.options.source)

    def _still_wanted(self, event: ExistingEvent, mailbox: str) -> DesiredEvent | Rejected | None:
        """An event of ours outside the desired set: moved out of the window (keep it current), or gone."""
        appointment = self.records.get(event.key.appointment_id)
        if appointment is None:
            return None
        if isinstance(appointment, Rejected):
            return Rejected(appointment.record_id, appointment.reason, mailbox=mailbox)
        opts = self.options
        try:
            pairs = events_for(appointment, self.mapping, opts.source, opts.render, selection=opts.selection)
        except ValueError as exc:
            return Rejected(appointment.id, str(exc), mailbox=mailbox)
        return next((d for m, d in pairs if m == mailbox and d.key == event.key), None)

    def _ensure_categories(self, mailbox: str, reading: Reading, wanted: frozenset[str], result: MailboxResult) -> None:
        """Add the categories the events carry to the mailbox's master list, in colour, so Outlook
        shows them coloured. Optional (MailboxSettings.ReadWrite): never fails the mailbox."""
        if not wanted or not self.options.render.categories:
            return
        if reading.categories is None:
            return self._note_categories("MailboxSettings.Read")
        bodies = missing(reading.categories, wanted, self.options.category_colors)
        if not bodies:
            return
        added = self.store.add_categories(mailbox, bodies, self.options.category_colors)
        if added.forbidden:
            self._note_categories("MailboxSettings.ReadWrite")
        if added.still_missing:
            log.warning("Mailbox %s: categories %s could not be added to its category list (shown without "
                        "colour)", result.upn or mailbox, ", ".join(added.still_missing))
        result.counts["categories_added"] = added.created

    def _note_categories(self, permission: str) -> None:
        with self._lock:
            self._categories_note = self._categories_note or categories_note(permission)

    def _apply(self, mailbox: str, plan: Plan, result: MailboxResult, reading: Reading) -> None:
        """Writes, then a read-back of what was created, then the copies in other calendars."""
        moves = [d for d in plan.deletes if d.reason == MOVED]
        first = [*plan.creates, *plan.updates, *(d for d in plan.deletes if d.reason != MOVED)]
        with self._read_backs.writing(mailbox):
            failed, errors, created = self._send(mailbox, first, result, reading)
            # Of the copies of a key an overlapping run may have created meanwhile, the smallest id stays
            # (the planner's rule): whichever run reads back last sees every copy, and all keep the same.
            second: list[Action] = duplicates(self._read_backs.read_back(mailbox, reading, created),
                                              {d.key for d in created}) if created else []
        # A copy in another calendar goes only once its event exists in the target: never lost on the way.
        second += [d for d in moves if d.key not in failed]
        if second:
            _, more, _ = self._send(mailbox, second, result, reading)
            errors += more
        if errors:
            raise GraphError(f"{len(errors)} write(s) failed, first: {errors[0]}")

    def _send(self, mailbox: str, actions: list[Action], result: MailboxResult, reading: Reading,
              salt: str | None = None) -> tuple[set[EventKey], list[GraphError], list[DesiredEvent]]:
        """One `$batch` of actions: keys that did not take, unexpected errors, and what was created."""
        if not actions:
            return set(), [], []
        failed: set[EventKey] = set()
        errors: list[GraphError] = []
        reused: list[DesiredEvent] = []
        created: list[DesiredEvent] = []
        for written in self.store.write(mailbox, reading, actions, salt or self.options.salt):
            action = written.action
            if written.outcome == "done" and isinstance(action, Create):
                created.append(action.desired)
            if written.outcome in ("done", "gone"):
                continue  # gone: deleted meanwhile (in Outlook, or an overlapping run's clean-up)
            if written.outcome == "reused" and salt is None:
                reused.append(action.desired)
                continue
            if action.key is not None:
                failed.add(action.key)
            if written.outcome in ("refused", "reused"):
                result.rejected.append(Rejected(action.key.appointment_id, f"Graph refused the event: {written.error}",
                                                mailbox=mailbox))
            else:
                errors.append(written.error)
        if reused:
            more_failed, more_errors, more_created = self._settle_reused(mailbox, reused, result, reading)
            failed |= more_failed
            errors += more_errors
            created += more_created
        return failed, errors, created

    def _settle_reused(self, mailbox: str, desired: list[DesiredEvent], result: MailboxResult, reading: Reading):
        """Creates Graph refused as a repeated transactionId (ErrorDuplicateTransactionId).

        Either our earlier attempt did create the event (its answer was lost) or the id was used
        for an event that is gone since. Find the events by their key tag, bring found ones up to
        date, and create the missing ones once more with a new transactionId: never a duplicate,
        never a failed run.
        """
        found = self.store.find(reading, [d.key for d in desired])
        plan = plan_mailbox(desired, found, self.options.policy, self.options.source)
        return self._send(mailbox, [*plan.creates, *plan.updates, *plan.deletes], result, reading,
                          salt=f"{self.options.salt}/again")
