"""One calendar-sync run: read through the hooks, plan with the pure core, apply through Graph.

Kept apart from the Airflow operator so tests, the demo and benchmarks drive the very same
code. Mailboxes run in parallel; one mailbox failing never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from oh_outlook_provider import graph_paths as paths
from oh_outlook_provider.errors import (
    GraphError,
    MailboxAccessDeniedError,
    MailboxNotEnabledError,
    OhOutlookError,
)
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.desired import desired_state, events_for
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.plan import Create, ExistingEvent, Plan, PlanPolicy, plan_mailbox
from oh_outlook_provider.sync.render import DesiredEvent, RenderOptions
from oh_outlook_provider.sync.tags import KEY_PROP, SOURCE_PROP, expand_tags, source_id, tag_filter
from oh_outlook_provider.timezones import graph_timezone

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


class Reading(NamedTuple):
    base: str  # the events collection of the target calendar
    headers: dict[str, str]
    existing: list[ExistingEvent]
    any_ours: bool  # the mailbox holds events of ours somewhere (not only in this window)


@dataclass
class MailboxResult:
    mailbox: str
    upn: str | None
    status: str = "ok"  # ok | skipped (permanent, explained) | failed
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    rejected: list[Rejected] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)


class CalendarSync:
    def __init__(self, graph: Any, openhandwerk: Any, mapping: Mapping[str, Mapping[str, Any]], options: SyncOptions):
        self.graph = graph
        self.oh = openhandwerk
        self.options = options
        self.mapping = {emp: str(info["user_id"]) for emp, info in mapping.items() if info and info.get("user_id")}
        self.upn = {str(info["user_id"]): info.get("upn") for info in mapping.values() if info and info.get("user_id")}
        self._appointments: dict[str, Appointment | Rejected | None] = {}
        self._lock = threading.Lock()
        self.source = ""
        self.zone = "Europe/Berlin"

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
            records = self.oh.iter_appointments(opts.window.start, opts.window.end)
            desired = desired_state(records, self.mapping, opts.window, self.source, opts.render)
            results = list(pool.map(lambda m: self.sync_mailbox(m, desired.by_mailbox.get(m, []), readings[m]),
                                    mailboxes))
        return self._summary(results, desired, time.monotonic() - started)

    def sync_mailbox(self, mailbox: str, desired: list[DesiredEvent], reading: Future | None = None) -> MailboxResult:
        result = MailboxResult(mailbox, self.upn.get(mailbox))
        try:
            read = reading.result() if reading else self._read(mailbox)
            plan = self._plan(mailbox, list(desired), result, read)
            result.counts = plan.counts()
            result.conflicts = [
                {"event_id": c.event_id, "appointment_id": c.key.appointment_id, "employee_id": c.key.employee_id,
                 "fields": list(c.fields), "resolution": c.resolution}
                for c in plan.conflicts
            ]
            if not self.options.dry_run:
                self._apply(mailbox, plan, result, read)
            problems = []
            if plan.guard_message:
                problems.append(plan.guard_message)
            failed = [c for c in plan.conflicts if c.resolution == "failed"]
            if failed:
                problems.append(
                    f"{len(failed)} event(s) were edited in Outlook and on_outlook_edit='fail': "
                    + ", ".join(f"{c.key.appointment_id} ({'/'.join(c.fields)})" for c in failed[:10])
                )
            if problems:
                result.status, result.error = "failed", " ".join(problems)
        except (MailboxNotEnabledError, MailboxAccessDeniedError) as exc:
            result.status, result.error = "skipped", str(exc)
        except OhOutlookError as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - reported per mailbox, the task fails at the end
            log.exception("mailbox %s failed unexpectedly", mailbox)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        return result

    # ------------------------------------------------------------------ read + plan
    def _events_base(self, mailbox: str) -> str:
        name = self.options.calendar_name
        if not name:
            return paths.events(mailbox)
        return paths.events(mailbox, self.graph.ensure_calendar(mailbox, name))

    def _read_headers(self) -> dict[str, str]:
        # All-day events come back at local midnight only in their own zone; ask for it.
        return {"Prefer": f'outlook.timezone="{graph_timezone(self.zone)}", IdType="ImmutableId"'}

    def _query(self, filter_: str, top: int) -> str:
        from urllib.parse import quote

        params = {"$filter": filter_, "$expand": expand_tags(), "$select": READ_SELECT, "$top": str(top)}
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    def _read(self, mailbox: str) -> Reading:
        """Our events in the window (first page and a probe for any event of ours in one `$batch`)."""
        window = self.options.window
        base = self._events_base(mailbox)
        ours = tag_filter(SOURCE_PROP, self.source)
        in_window = (
            f"{ours} and start/dateTime ge '{_utc(window.start)}' and start/dateTime lt '{_utc(window.end)}'"
        )
        headers = self._read_headers()
        first = self.graph.batch([
            {"id": "window", "method": "GET", "url": f"{base}?{self._query(in_window, self.options.read_page_size)}",
             "headers": headers},
            {"id": "probe", "method": "GET", "url": f"{base}?{self._query(ours, 1)}", "headers": headers},
        ])
        pages = {}
        for name in ("window", "probe"):
            response = first[name]
            if not response.ok:
                raise self.graph.batch_error({"method": "GET", "url": base}, response)
            pages[name] = response.body or {}
        raw = list(pages["window"].get("value", []))
        raw.extend(self.graph.page_after(pages["window"], headers=headers))
        existing = [e for e in map(ExistingEvent.from_graph, raw) if e.source == self.source]
        return Reading(base, headers, existing, bool(pages["probe"].get("value")))

    def _plan(self, mailbox: str, desired: list[DesiredEvent], result: MailboxResult, reading: Reading) -> Plan:
        base, headers, existing, any_ours = reading

        wanted = {d.key for d in desired}
        protected: set[str] = set()
        for event in existing:
            if event.key is None or event.key in wanted:
                continue
            moved = self._still_wanted(event, mailbox)
            if isinstance(moved, Rejected):
                protected.add(event.id)  # never delete because a record became unreadable
                result.rejected.append(moved)
            elif moved is not None:
                desired.append(moved)
                wanted.add(moved.key)
        existing = [e for e in existing if e.id not in protected]

        have = {e.key for e in existing}
        missing = [d for d in desired if d.key not in have]
        if missing and any_ours:
            existing.extend(self._lookup(base, missing, headers))
        return plan_mailbox(desired, existing, self.options.policy, self.source)

    def _still_wanted(self, event: ExistingEvent, mailbox: str) -> DesiredEvent | Rejected | None:
        """An event of ours outside the desired set: moved out of the window (keep it current), or gone."""
        appointment = self._appointment(event.key.appointment_id)
        if appointment is None:
            return None
        if isinstance(appointment, Rejected):
            return Rejected(appointment.record_id, appointment.reason, mailbox=mailbox)
        try:
            pairs = events_for(appointment, self.mapping, self.source, self.options.render)
        except ValueError as exc:
            return Rejected(appointment.id, str(exc), mailbox=mailbox)
        return next((d for m, d in pairs if m == mailbox and d.key == event.key), None)

    def _appointment(self, appointment_id: str) -> Appointment | Rejected | None:
        with self._lock:
            if appointment_id in self._appointments:
                return self._appointments[appointment_id]
        found = self.oh.get_appointment(appointment_id)
        with self._lock:
            self._appointments[appointment_id] = found
        return found

    def _lookup(self, base: str, missing: list[DesiredEvent], headers: dict) -> list[ExistingEvent]:
        """Find our events for keys absent from the window (moved in from elsewhere) by their key tag."""
        requests = [
            {"id": f"k{i}", "method": "GET", "url": f"{base}?{self._query(tag_filter(KEY_PROP, str(d.key)), 10)}",
             "headers": headers}
            for i, d in enumerate(missing)
        ]
        found: list[ExistingEvent] = []
        responses = self.graph.batch(requests)
        for item in requests:
            response = responses[item["id"]]
            if not response.ok:
                raise self.graph.batch_error(item, response)
            found.extend(ExistingEvent.from_graph(e) for e in (response.body or {}).get("value", []))
        return [e for e in found if e.source == self.source]

    # ------------------------------------------------------------------ apply
    def _apply(self, mailbox: str, plan: Plan, result: MailboxResult, reading: Reading, salt: str | None = None) -> None:
        """Creates go to the target calendar; updates and deletes address the event by its (immutable) id."""
        items: list[tuple[dict, Any]] = []
        for i, create in enumerate(plan.creates):
            body = create.desired.create_body(salt or self.options.salt)
            items.append(({"id": f"c{i}", "method": "POST", "url": reading.base, "body": body}, create))
        for i, update in enumerate(plan.updates):
            items.append(({"id": f"u{i}", "method": "PATCH", "url": paths.event(mailbox, update.event_id),
                           "body": update.patch_body()}, update))
        for i, delete in enumerate(plan.deletes):
            items.append(({"id": f"d{i}", "method": "DELETE", "url": paths.event(mailbox, delete.event_id)}, delete))
        if not items:
            return
        responses = self.graph.batch([item for item, _ in items])
        unexpected = []
        reused: list[DesiredEvent] = []
        for item, action in items:
            response = responses[item["id"]]
            if response.ok or (item["method"] == "DELETE" and response.status == 404):
                continue
            error = self.graph.batch_error(item, response)
            if isinstance(action, Create) and salt is None and error.code == "ErrorDuplicateTransactionId":
                reused.append(action.desired)
                continue
            if isinstance(error, (MailboxNotEnabledError, MailboxAccessDeniedError)):
                raise error
            key = getattr(getattr(action, "desired", None), "key", None) or getattr(action, "key", None)
            if 400 <= response.status < 500 and response.status not in (401, 403, 429) and key is not None:
                result.rejected.append(Rejected(key.appointment_id, f"Graph refused the event: {error}", mailbox=mailbox))
            else:
                unexpected.append(error)
        if reused:
            self._settle_reused(mailbox, reused, result, reading)
        if unexpected:
            raise GraphError(f"{len(unexpected)} write(s) failed, first: {unexpected[0]}")

    def _settle_reused(self, mailbox: str, desired: list[DesiredEvent], result: MailboxResult, reading: Reading) -> None:
        """Creates Graph refused as a repeated transactionId (ErrorDuplicateTransactionId).

        Either our earlier attempt did create the event (its answer was lost) or the id was used
        for an event that is gone since. Find the events by their key tag, bring found ones up to
        date, and create the missing ones once more with a new transactionId: never a duplicate,
        never a failed run.
        """
        found = self._lookup(reading.base, desired, reading.headers)
        plan = plan_mailbox(desired, found, self.options.policy, self.source)
        self._apply(mailbox, plan, result, reading, salt=f"{self.options.salt}/again")

    # ------------------------------------------------------------------ report
    def _summary(self, results: list[MailboxResult], desired: Any, seconds: float) -> dict[str, Any]:
        totals: dict[str, int] = {}
        for r in results:
            for name, n in r.counts.items():
                totals[name] = totals.get(name, 0) + n
        rejected = [{"record_id": r.record_id, "reason": r.reason, "mailbox": r.mailbox} for r in desired.rejected]
        for r in results:
            rejected.extend({"record_id": x.record_id, "reason": x.reason, "mailbox": x.mailbox} for x in r.rejected)
        return {
            "window": {"start": self.options.window.start.isoformat(), "end": self.options.window.end.isoformat()},
            "source": self.source,
            "dry_run": self.options.dry_run,
            "appointments": desired.appointments,
            "cancelled": desired.cancelled,
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
        }


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def summary_table(summary: Mapping[str, Any]) -> str:
    """A readable table for the task log."""
    cols = ("create", "update", "delete", "unchanged", "conflict", "rejected", "delete_blocked")
    header = f"{'mailbox':38} {'status':8} " + " ".join(f"{c[:9]:>9}" for c in cols)
    lines = [header, "-" * len(header)]
    for mailbox, info in sorted(summary["mailboxes"].items(), key=lambda kv: kv[1].get("upn") or kv[0]):
        counts = info.get("counts") or {}
        lines.append(f"{(info.get('upn') or mailbox)[:38]:38} {info['status']:8} "
                     + " ".join(f"{counts.get(c, 0):>9}" for c in cols))
    totals = summary.get("totals") or {}
    lines.append("-" * len(header))
    lines.append(f"{'total':38} {'':8} " + " ".join(f"{totals.get(c, 0):>9}" for c in cols))
    for mailbox, error in {**summary.get("skipped", {}), **summary.get("failed", {})}.items():
        upn = summary["mailboxes"][mailbox].get("upn") or mailbox
        lines.append(f"! {upn}: {error}")
    for item in summary.get("rejected", []):
        lines.append(f"rejected appointment {item['record_id']}: {item['reason']}")
    return "\n".join(lines)
