"""One calendar-sync run: read through the hooks, plan with the pure core, apply through Graph.

Kept apart from the Airflow operator so tests, the demo and benchmarks drive the very same
code. Only the order of work is decided here (the plan's actions know their own requests):

1. read every mailbox (our events in the target calendar's window, and copies of ours left in
   calendars that held them before a `calendar_name` change) while openHandwerk is read;
2. plan every mailbox with the pure core, then one mass-delete guard over the whole run;
3. apply each mailbox: creates, updates and deletes in one `$batch`; read back what was created,
   so that overlapping runs leave no duplicate behind; then remove the copies in other calendars
   whose event now exists in the target.

Mailboxes run in parallel; one mailbox failing never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote

from oh_outlook_provider.exceptions import (
    GraphError,
    MailboxAccessDeniedError,
    MailboxNotEnabledError,
    OhOutlookError,
    OpenHandwerkError,
)
from oh_outlook_provider.graph import paths
from oh_outlook_provider.graph.errors import APP_NAME
from oh_outlook_provider.graph.timezones import graph_timezone
from oh_outlook_provider.runners.log_lines import rejected_lines, wrapped
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.categories import COLOR_DEFAULTS, missing
from oh_outlook_provider.sync.codec import rejected_record
from oh_outlook_provider.sync.desired import desired_state, events_for
from oh_outlook_provider.sync.event_kinds import casefolded
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.plan import (
    DUPLICATE,
    MOVED,
    Action,
    Create,
    Delete,
    ExistingEvent,
    Plan,
    PlanPolicy,
    plan_mailbox,
    run_guard,
)
from oh_outlook_provider.sync.render import DesiredEvent, RenderOptions, categories_of
from oh_outlook_provider.sync.selection import EVERYTHING, Selection
from oh_outlook_provider.sync.tags import (
    HELD,
    HOLDS,
    KEY_PROP,
    SOURCE_PROP,
    EventKey,
    expand_tags,
    holds_prop,
    source_id,
    tag_filter,
)

log = logging.getLogger(__name__)

READ_SELECT = ",".join((*fingerprint.COMPARABLE, "changeKey"))


@dataclass(frozen=True)
class SyncOptions:
    window: Window
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


class Reading(NamedTuple):
    target: str  # the events collection of the target calendar
    headers: dict[str, str]
    existing: list[ExistingEvent]  # ours in the target calendar's window
    any_ours: bool  # the target calendar holds events of ours somewhere (not only in this window)
    strays: list[ExistingEvent]  # ours in other calendars of the mailbox
    categories: list[dict] | None  # the master category list; None: not readable (no MailboxSettings permission)


@dataclass
class MailboxResult:
    mailbox: str
    upn: str | None
    status: str = "ok"  # ok | skipped (permanent, explained) | failed
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    rejected: list[Rejected] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)


@dataclass
class Prepared:
    """A mailbox read and planned, waiting for the run-level guard."""

    result: MailboxResult
    plan: Plan | None = None
    reading: Reading | None = None
    categories: frozenset[str] = frozenset()  # the category names this mailbox's events carry


class CalendarSync:
    """`appointments`: the run's one openHandwerk read of `options.window` (a snapshot every shard
    shares); None reads the window here. Rejected records of a shared read are the read's to report."""

    def __init__(self, graph: Any, openhandwerk: Any, mapping: Mapping[str, Mapping[str, Any]], options: SyncOptions,
                 appointments: Callable[[], Iterable[Appointment]] | None = None):
        self.graph = graph
        self.oh = openhandwerk
        self.appointments = appointments
        self.options = options
        self.mapping = {emp: str(info["user_id"]) for emp, info in mapping.items() if info and info.get("user_id")}
        self.upn = {str(info["user_id"]): info.get("upn") for info in mapping.values() if info and info.get("user_id")}
        self._appointments: dict[str, Appointment | Rejected | None] = {}
        self._lock = threading.Lock()
        self._known_id: str | None = None  # an appointment the list returned: proves the single-record path
        self._single_path_ok: bool | None = None
        self.source = ""
        self.zone = "Europe/Berlin"
        self._categories_note: str | None = None  # said once per run when the permission is missing

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        opts = self.options
        self.source = source_id(self.oh.settings.id_kn)
        self.zone = self.oh.settings.timezone
        mailboxes = sorted(set(self.mapping.values()))
        if opts.mailboxes is not None:
            mailboxes = [m for m in mailboxes if m in opts.mailboxes]
        with ThreadPoolExecutor(max_workers=max(1, opts.max_workers), thread_name_prefix="mailbox") as pool:
            # Outlook is read while openHandwerk is read: the two services do not wait for each other.
            readings = {m: pool.submit(self._read, m) for m in mailboxes}
            # Streamed page by page into the desired state; a failed read raises, it is never "no appointments".
            read = self.appointments() if self.appointments else self.oh.iter_appointments(opts.window.start,
                                                                                         opts.window.end)
            records = self._noting_one(read)
            desired = desired_state(records, self.mapping, opts.window, self.source, opts.render, opts.selection)
            prepared = list(pool.map(lambda m: self._prepare(m, desired.by_mailbox.get(m, []), readings[m]),
                                     mailboxes))
            # Rejected records do not count as an answer: they cannot say which window they belong to.
            held_back = run_guard([p.plan for p in prepared if p.plan], desired.appointments, opts.policy)
            results = list(pool.map(lambda p: self._finish(p, held_back), prepared))
        return self._summary(results, desired, time.monotonic() - started)

    def _noting_one(self, records: Iterable[Appointment | Rejected]) -> Iterator[Appointment | Rejected]:
        for record in records:
            if self._known_id is None and isinstance(record, Appointment):
                self._known_id = record.id
            yield record

    def _prepare(self, mailbox: str, desired: list[DesiredEvent], reading: Future) -> Prepared:
        result = MailboxResult(mailbox, self.upn.get(mailbox))
        try:
            read = reading.result()
            names = frozenset(n for d in desired for n in categories_of(d.appointment, d.options))
            return Prepared(result, self._plan(mailbox, list(desired), result, read), read, names)
        except Exception as exc:  # noqa: BLE001 - reported per mailbox, the task fails at the end
            _fail(result, exc)
            return Prepared(result)

    def _finish(self, prepared: Prepared, held_back: str | None) -> MailboxResult:
        result, plan, reading = prepared.result, prepared.plan, prepared.reading
        if plan is None or reading is None:
            return result
        try:
            if held_back:
                plan.block_real_deletes(held_back)
            result.counts = plan.counts()
            result.conflicts = [
                {"event_id": c.event_id, "appointment_id": c.key.appointment_id, "employee_id": c.key.employee_id,
                 "fields": list(c.fields), "resolution": c.resolution}
                for c in plan.conflicts
            ]
            if not self.options.dry_run:
                self._ensure_categories(result.mailbox, reading, prepared.categories, result)
                self._apply(result.mailbox, plan, result, reading)
            result.counts["rejected"] = len(result.rejected)  # the lines the report lists for this mailbox
            problems = []
            if plan.guard_message and plan.blocked_deletes:
                problems.append(plan.guard_message)
            failed = [c for c in plan.conflicts if c.resolution == "failed"]
            if failed:
                problems.append(
                    f"{len(failed)} event(s) were edited in Outlook and on_outlook_edit='fail': "
                    + ", ".join(f"{c.key.appointment_id} ({'/'.join(c.fields)})" for c in failed[:10])
                )
            if problems:
                result.status, result.error = "failed", " ".join(problems)
        except Exception as exc:  # noqa: BLE001 - reported per mailbox, the task fails at the end
            _fail(result, exc)
        return result

    # ------------------------------------------------------------------ read + plan
    def _target(self, mailbox: str) -> str | None:
        """Id of the target calendar, None for the default calendar."""
        name = self.options.calendar_name
        if not name:
            return None
        calendar_id = self.graph.ensure_calendar(mailbox, name)
        return None if self.graph.is_default_calendar(mailbox, calendar_id) else calendar_id

    def _read_headers(self) -> dict[str, str]:
        # All-day events come back at local midnight only in their own zone; ask for it.
        return {"Prefer": f'outlook.timezone="{graph_timezone(self.zone)}", IdType="ImmutableId"'}

    def _query(self, filter_: str, top: int, select: str = READ_SELECT, expand: tuple[str, ...] | None = None) -> str:
        """A query of our events: `expand` names the tags to return (all three unless said)."""
        params = {"$filter": filter_, "$select": select, "$top": str(top)}
        if expand is None:
            params["$expand"] = expand_tags()
        elif expand:
            params["$expand"] = expand_tags(expand)
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    @property
    def _ours(self) -> str:
        """$filter clause: events tagged with our source."""
        return tag_filter(SOURCE_PROP, self.source)

    def _in_range(self, start: dt.datetime, end: dt.datetime) -> str:
        return f"{self._ours} and start/dateTime ge '{_utc(start)}' and start/dateTime lt '{_utc(end)}'"

    def _our_events(self, events: Iterable[dict], elsewhere: bool = False) -> list[ExistingEvent]:
        """Graph's events as ExistingEvents, ours only (a second line of defence behind the filter)."""
        return [e for e in (ExistingEvent.from_graph(x, elsewhere) for x in events) if e.source == self.source]

    def _pages(self, requests: list[dict], probes: frozenset[str] = frozenset(),
               optional: frozenset[str] = frozenset()) -> dict[str, list[dict] | None]:
        """GETs in one `$batch`, each followed through all its pages (a probe: its first page only);
        an optional one the app may not read (403) gives None instead of failing the mailbox."""
        responses = self.graph.batch(requests)
        out: dict[str, list[dict] | None] = {}
        for item in requests:
            response = responses[item["id"]]
            if not response.ok and item["id"] in optional and response.status == 403:
                out[item["id"]] = None
                continue
            if not response.ok:
                raise self.graph.batch_error(item, response)
            page = response.body or {}
            rest = () if item["id"] in probes else self.graph.page_after(page, headers=item.get("headers"))
            out[item["id"]] = [*page.get("value", []), *rest]
        return out

    def _read(self, mailbox: str) -> Reading:
        """Our events in the window, and whether and where else the mailbox holds ours, in one `$batch`."""
        window = self.options.window
        target_id = self._target(mailbox)
        target = paths.events(mailbox, target_id)
        headers = self._read_headers()
        ours = self._ours
        holds = holds_prop(self.source)
        requests = [
            {"id": "window", "method": "GET", "headers": headers,
             "url": f"{target}?{self._query(self._in_range(window.start, window.end), self.options.read_page_size)}"},
            {"id": "probe", "method": "GET", "url": f"{target}?{self._query(ours, 1, 'id', ())}", "headers": headers},
            {"id": "holders", "method": "GET", "headers": headers,
             "url": f"{paths.calendars(mailbox)}?{self._query(tag_filter(holds, HOLDS), 100, 'id,name', ())}"},
        ]
        if target_id is not None:  # events of ours written before calendar_name was set
            requests.append({"id": "default", "method": "GET", "headers": headers,
                             "url": f"{paths.events(mailbox)}?{self._query(ours, 1, 'id', ())}"})
        if self.options.render.categories:  # in the same round trip: colours cost no extra request
            requests.append({"id": "categories", "method": "GET", "url": paths.master_categories(mailbox)})
        pages = self._pages(requests, probes=frozenset({"probe", "default"}), optional=frozenset({"categories"}))
        existing = self._our_events(pages["window"])
        holders = {c["id"] for c in pages["holders"]}
        elsewhere: list[str | None] = sorted(holders - {target_id})
        if pages.get("default"):
            elsewhere.append(None)
        strays = self._strays(mailbox, elsewhere, headers) if elsewhere else []
        if target_id is not None and target_id not in holders and not self.options.dry_run:
            self._tag_calendar(mailbox, target_id, HOLDS)
        return Reading(target, headers, existing, bool(pages["probe"]), strays, pages.get("categories"))

    def _strays(self, mailbox: str, calendars: list[str | None], headers: dict) -> list[ExistingEvent]:
        """All our events in calendars other than the target; a tagged calendar found empty is untagged."""
        requests = [{"id": f"s{i}", "method": "GET", "headers": headers,
                     "url": f"{paths.events(mailbox, cal)}?{self._query(self._ours, self.options.read_page_size)}"}
                    for i, cal in enumerate(calendars)]
        pages = self._pages(requests)
        strays = []
        for i, cal in enumerate(calendars):
            found = self._our_events(pages[f"s{i}"], elsewhere=True)
            if not found and cal is not None and not self.options.dry_run:
                self._tag_calendar(mailbox, cal, HELD)  # emptied by an earlier run: stop reading it
            strays.extend(found)
        return strays

    def _tag_calendar(self, mailbox: str, calendar_id: str, value: str) -> None:
        self.graph.patch(paths.calendar(mailbox, calendar_id),
                         {"singleValueExtendedProperties": [{"id": holds_prop(self.source), "value": value}]})

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
        missing = [d for d in desired if d.key not in in_target]
        if missing and reading.any_ours:
            existing.extend(self._lookup(reading.target, missing, reading.headers))
        return plan_mailbox(desired, existing, self.options.policy, self.source)

    def _still_wanted(self, event: ExistingEvent, mailbox: str) -> DesiredEvent | Rejected | None:
        """An event of ours outside the desired set: moved out of the window (keep it current), or gone."""
        appointment = self._appointment(event.key.appointment_id)
        if appointment is None:
            return None
        if isinstance(appointment, Rejected):
            return Rejected(appointment.record_id, appointment.reason, mailbox=mailbox)
        try:
            pairs = events_for(appointment, self.mapping, self.source, self.options.render,
                               selection=self.options.selection)
        except ValueError as exc:
            return Rejected(appointment.id, str(exc), mailbox=mailbox)
        return next((d for m, d in pairs if m == mailbox and d.key == event.key), None)

    def _appointment(self, appointment_id: str) -> Appointment | Rejected | None:
        self._check_single_path()
        with self._lock:
            if appointment_id in self._appointments:
                return self._appointments[appointment_id]
        found = self.oh.get_appointment(appointment_id)
        with self._lock:
            self._appointments[appointment_id] = found
        return found

    def _check_single_path(self) -> None:
        """Before "openHandwerk does not know it" may delete an event, the single-record path must
        answer for a record the list returned: a wrong path (a 404 for everything) deletes nothing."""
        with self._lock:
            if self._single_path_ok is None:
                known = self._known_id
                answer = self.oh.get_appointment(known) if known is not None else None
                self._single_path_ok = known is None or isinstance(answer, Appointment) and answer.id == known
                if known is not None and isinstance(answer, Appointment | Rejected):
                    self._appointments[known] = answer
            if not self._single_path_ok:
                raise OpenHandwerkError(
                    f"openHandwerk's single-appointment path does not answer for appointment {self._known_id!r}, "
                    "which the appointment list returned; so no event is deleted for lack of an answer. Check "
                    f"the 'appointment' path of connection '{self.oh.settings.conn_id}'."
                )

    def _lookup(self, target: str, missing: list[DesiredEvent], headers: dict) -> list[ExistingEvent]:
        """Find our events for keys absent from the window (moved in from elsewhere) by their key tag."""
        requests = [
            {"id": f"k{i}", "method": "GET", "url": f"{target}?{self._query(tag_filter(KEY_PROP, str(d.key)), 10)}",
             "headers": headers}
            for i, d in enumerate(missing)
        ]
        return [e for events in self._pages(requests).values() for e in self._our_events(events)]

    # ------------------------------------------------------------------ categories
    def _ensure_categories(self, mailbox: str, reading: Reading, wanted: frozenset[str], result: MailboxResult) -> None:
        """Add the categories the events carry to the mailbox's master list, in colour, so Outlook
        shows them coloured. Optional (MailboxSettings.ReadWrite): never fails the mailbox."""
        if not wanted or not self.options.render.categories:
            return
        if reading.categories is None:
            self._note_categories("MailboxSettings.Read")
            return
        bodies = missing(reading.categories, wanted, self.options.category_colors)
        if not bodies:
            return
        requests = [{"id": f"c{i}", "method": "POST", "url": paths.master_categories(mailbox), "body": body}
                    for i, body in enumerate(bodies)]
        responses = self.graph.batch(requests)
        created, unsure = 0, []
        for item in requests:
            response = responses[item["id"]]
            if response.ok:
                created += 1
            elif response.status == 403:
                self._note_categories("MailboxSettings.ReadWrite")
                break
            else:  # most likely made meanwhile by an overlapping run (409 or 400: Graph does not say which)
                unsure.append(item["body"]["displayName"])
        if unsure:
            listed = self._pages([{"id": "categories", "method": "GET", "url": paths.master_categories(mailbox)}],
                                 optional=frozenset({"categories"}))["categories"] or []
            still = missing(listed, unsure, self.options.category_colors)
            if still:
                log.warning("Mailbox %s: categories %s could not be added to its category list (shown without "
                            "colour)", result.upn or mailbox, ", ".join(b["displayName"] for b in still))
        result.counts["categories_added"] = created

    def _note_categories(self, permission: str) -> None:
        with self._lock:
            if self._categories_note is None:
                self._categories_note = (
                    f"Category colours: without {permission} the app may not use the mailboxes' category lists, "
                    "so events carry their categories (Terminart) without colour. Granting the optional "
                    f"application permission MailboxSettings.ReadWrite (App registrations > {APP_NAME} > API "
                    "permissions, with admin consent) lets each run add them to every mapped mailbox's category "
                    "list in colour (Baustelle orange, Urlaub green, ...).")

    # ------------------------------------------------------------------ apply
    def _apply(self, mailbox: str, plan: Plan, result: MailboxResult, reading: Reading) -> None:
        """Writes, then a read-back of what was created, then the copies in other calendars."""
        moves = [d for d in plan.deletes if d.reason == MOVED]
        first = [*plan.creates, *plan.updates, *(d for d in plan.deletes if d.reason != MOVED)]
        failed, errors, created = self._send(mailbox, first, result, reading)
        second: list[Action] = self._duplicates_of(mailbox, created, reading) if created else []
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
        items = [({"id": f"a{i}", **action.request(mailbox, reading.target, salt or self.options.salt)}, action)
                 for i, action in enumerate(actions)]
        responses = self.graph.batch([item for item, _ in items])
        failed: set[EventKey] = set()
        errors: list[GraphError] = []
        reused: list[DesiredEvent] = []
        created: list[DesiredEvent] = []
        for item, action in items:
            response = responses[item["id"]]
            if response.ok:
                if isinstance(action, Create):
                    created.append(action.desired)
                continue
            if response.status == 404 and not isinstance(action, Create):
                continue  # deleted meanwhile (in Outlook, or an overlapping run's clean-up): nothing left to do
            error = self.graph.batch_error(item, response)
            if isinstance(action, Create) and salt is None and error.code == "ErrorDuplicateTransactionId":
                reused.append(action.desired)
                continue
            if isinstance(error, (MailboxNotEnabledError, MailboxAccessDeniedError)):
                raise error
            if action.key is not None:
                failed.add(action.key)
            if 400 <= response.status < 500 and response.status not in (401, 403, 429) and action.key is not None:
                result.rejected.append(Rejected(action.key.appointment_id, f"Graph refused the event: {error}",
                                                mailbox=mailbox))
            else:
                errors.append(error)
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
        found = self._lookup(reading.target, desired, reading.headers)
        plan = plan_mailbox(desired, found, self.options.policy, self.source)
        return self._send(mailbox, [*plan.creates, *plan.updates, *plan.deletes], result, reading,
                          salt=f"{self.options.salt}/again")

    def _duplicates_of(self, mailbox: str, created: list[DesiredEvent], reading: Reading) -> list[Action]:
        """Read back the keys this run created: an overlapping run (another DAG run, a retry while a
        zombie still writes, a worker on another machine) may have created the same ones meanwhile.

        Outlook is the store every worker shares, so the rule needs no lock: of the copies of a key
        the smallest id stays, the others go. Whichever run reads back last sees every copy (each
        run reads back after its own create was answered), and every run keeps the same copy, so
        two runs never delete each other's survivor.
        """
        keys = {d.key for d in created}
        start = min(d.start_utc for d in created)
        end = max(d.start_utc for d in created) + dt.timedelta(seconds=1)
        # Only ids and key tags: the source is in the filter, the content is not compared here.
        query = self._query(self._in_range(start, end), self.options.read_page_size, "id", (SOURCE_PROP, KEY_PROP))
        url = f"{reading.target}?{query}"
        events = self._pages([{"id": "readback", "method": "GET", "url": url, "headers": reading.headers}])["readback"]
        copies: dict[EventKey, list[str]] = defaultdict(list)
        for event in self._our_events(events):
            if event.key in keys:
                copies[event.key].append(event.id)
        return [Delete(event_id, key, DUPLICATE) for key, ids in copies.items() for event_id in sorted(ids)[1:]]

    # ------------------------------------------------------------------ report
    def _summary(self, results: list[MailboxResult], desired: Any, seconds: float) -> dict[str, Any]:
        totals: dict[str, int] = {}
        for r in results:
            for name, n in r.counts.items():
                totals[name] = totals.get(name, 0) + n
        rejected = [rejected_record(r) for r in (*desired.rejected, *(x for r in results for x in r.rejected))]
        totals["rejected"] = len(rejected)  # records rejected on reading belong to no mailbox: counted once here
        return {
            "window": {"start": self.options.window.start.isoformat(), "end": self.options.window.end.isoformat()},
            "source": self.source,
            "dry_run": self.options.dry_run,
            "appointments": desired.appointments,
            "cancelled": desired.cancelled,
            "excluded": desired.excluded,
            "without_mapped_attendee": desired.without_mapped_attendee,
            "totals": totals,
            "mailboxes": {
                r.mailbox: {"upn": r.upn, "status": r.status, "counts": r.counts, "error": r.error}
                for r in results
            },
            "rejected": rejected,
            "conflicts": [c | {"mailbox": r.mailbox} for r in results for c in r.conflicts],
            "failed": {r.mailbox: r.error for r in results if r.status == "failed"},
            "skipped": {r.mailbox: r.error for r in results if r.status == "skipped"},
            "graph_requests": self.graph.stats.as_dict(),
            "openhandwerk_requests": getattr(self.oh, "requests_made", None),
            "duration_s": round(seconds, 3),
            "notes": [self._categories_note] if self._categories_note else [],
        }


def _fail(result: MailboxResult, exc: Exception) -> None:
    """A mailbox's failure, as its row in the report says it."""
    if isinstance(exc, (MailboxNotEnabledError, MailboxAccessDeniedError)):
        result.status, result.error = "skipped", str(exc)
    elif isinstance(exc, OhOutlookError):
        result.status, result.error = "failed", str(exc)
    else:
        log.exception("mailbox %s failed unexpectedly", result.mailbox, exc_info=exc)
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat()  # years < 1000 padded


def summary_table(summary: Mapping[str, Any]) -> str:
    """A table for the task log, at most WIDTH characters a line; the rejected lines below add up to
    the total in the table (records rejected on reading belong to no mailbox: their own row)."""
    cols = ("create", "update", "delete", "unchanged", "conflict", "rejected", "delete_blocked")
    heads = ("create", "update", "delete", "same", "conflict", "rejected", "blocked")
    header = f"{'mailbox':28} {'status':7} " + " ".join(f"{h:>8}" for h in heads)
    rule = "-" * len(header)
    lines = [header, rule]

    def row(name: str, status: str, counts: Mapping[str, int]) -> str:
        return f"{name[:28]:28} {status:7} " + " ".join(f"{counts.get(c, 0):>8}" for c in cols)

    for mailbox, info in sorted(summary["mailboxes"].items(), key=lambda kv: kv[1].get("upn") or kv[0]):
        lines.append(row(info.get("upn") or mailbox, info["status"], info.get("counts") or {}))
    on_reading = sum(1 for r in summary.get("rejected", []) if not r.get("mailbox"))
    if on_reading:
        lines.append(row("(openHandwerk records)", "", {"rejected": on_reading}))
    lines += [rule, row("total", "", summary.get("totals") or {})]
    for mailbox, error in {**summary.get("skipped", {}), **summary.get("failed", {})}.items():
        upn = summary["mailboxes"][mailbox].get("upn") or mailbox
        lines.extend(wrapped(f"! {upn}: {error}"))
    return "\n".join(lines + rejected_lines(summary.get("rejected", [])))
