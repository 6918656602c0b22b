"""The calendar sync's report: one row per mailbox, the run's totals, and the task log's table.

The report is what the sync task returns (its XCom `return_value`), what the asset event and the
demo read, and what `summary_table` prints. `SyncReport` types its keys; at run time it is a plain
dict, so the XCom JSON stays as it was in 0.1/0.2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from oh_outlook_provider.exceptions import MailboxAccessDeniedError, MailboxNotEnabledError, OhOutlookError
from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.log_lines import rejected_lines, wrapped
from oh_outlook_provider.sync.codec import rejected_record, window_record
from oh_outlook_provider.sync.desired import DesiredState
from oh_outlook_provider.sync.models import Rejected, Window
from oh_outlook_provider.sync.plan import Conflict

log = logging.getLogger(__name__)

Status = Literal["ok", "skipped", "failed"]  # skipped: permanent and explained (no mailbox, scoped away)


class MailboxRow(TypedDict):
    upn: str | None
    status: Status
    counts: dict[str, int]  # create, update, delete, unchanged, conflict, rejected, delete_blocked, ...
    error: str | None


class RejectedRow(TypedDict):
    record_id: str
    reason: str
    mailbox: str | None  # None: rejected on reading, before any mailbox


class ConflictRow(TypedDict):
    event_id: str
    appointment_id: str
    employee_id: str
    fields: list[str]  # what was edited in Outlook (fingerprint.COMPARABLE names)
    resolution: str  # overwritten | kept | failed
    mailbox: str


class SyncReport(TypedDict):
    window: dict[str, str]  # start, end: ISO 8601 with offset
    source: str
    dry_run: bool
    appointments: int  # in the window, cancelled and left out included
    cancelled: int
    excluded: int
    without_mapped_attendee: int
    totals: dict[str, int]
    mailboxes: dict[str, MailboxRow]  # by user id
    rejected: list[RejectedRow]
    conflicts: list[ConflictRow]
    failed: dict[str, str]  # user id -> error
    skipped: dict[str, str]
    graph_requests: dict[str, int]
    openhandwerk_requests: int | None
    duration_s: float
    notes: list[str]


@dataclass
class MailboxResult:
    """One mailbox's outcome while the run goes on."""

    mailbox: str
    upn: str | None
    status: Status = "ok"
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    rejected: list[Rejected] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def fail(self, exc: Exception) -> None:
        """A mailbox's failure, as its row in the report says it."""
        if isinstance(exc, (MailboxNotEnabledError, MailboxAccessDeniedError)):
            # Exchange refuses every request of such a mailbox: nothing planned for it was written.
            self.status, self.error, self.counts = "skipped", str(exc), {}
        elif isinstance(exc, OhOutlookError):
            self.status, self.error = "failed", str(exc)
        else:
            log.exception("mailbox %s failed unexpectedly", self.mailbox, exc_info=exc)
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"


def _conflict_row(conflict: Conflict, mailbox: str) -> ConflictRow:
    return {"event_id": conflict.event_id, "appointment_id": conflict.key.appointment_id,
            "employee_id": conflict.key.employee_id, "fields": list(conflict.fields),
            "resolution": conflict.resolution, "mailbox": mailbox}


def build_report(results: Iterable[MailboxResult], desired: DesiredState, window: Window, source: str,
                 dry_run: bool, graph_requests: Mapping[str, int], openhandwerk_requests: int | None,
                 seconds: float, notes: Iterable[str]) -> SyncReport:
    """The run's report; records rejected on reading belong to no mailbox and are counted once here."""
    results = list(results)
    totals: dict[str, int] = {}
    for r in results:
        for name, n in r.counts.items():
            totals[name] = totals.get(name, 0) + n
    rejected = [rejected_record(r) for r in (*desired.rejected, *(x for r in results for x in r.rejected))]
    totals["rejected"] = len(rejected)
    return {
        "window": window_record(window),
        "source": source,
        "dry_run": dry_run,
        "appointments": desired.appointments,
        "cancelled": desired.cancelled,
        "excluded": desired.excluded,
        "without_mapped_attendee": desired.without_mapped_attendee,
        "totals": totals,
        "mailboxes": {r.mailbox: {"upn": r.upn, "status": r.status, "counts": r.counts, "error": r.error}
                      for r in results},
        "rejected": rejected,
        "conflicts": [_conflict_row(c, r.mailbox) for r in results for c in r.conflicts],
        "failed": {r.mailbox: r.error or "" for r in results if r.status == "failed"},
        "skipped": {r.mailbox: r.error or "" for r in results if r.status == "skipped"},
        "graph_requests": dict(graph_requests),
        "openhandwerk_requests": openhandwerk_requests,
        "duration_s": round(seconds, 3),
        "notes": list(notes),
    }


def failed_mailboxes(summary: Mapping[str, Any]) -> str:
    """The report's failed mailboxes for an error message: "upn (else user id): error; ..."."""
    return "; ".join(f"{summary['mailboxes'][m]['upn'] or m}: {err}" for m, err in summary["failed"].items())


def every_mailbox_refused(summary: Mapping[str, Any]) -> str | None:
    """The first mailbox's reason when Exchange refused every mailbox of the run (all "skipped": a missing
    permission, a policy that blocks all), so nothing was synced; None when any mailbox was synced or failed."""
    skipped = summary["skipped"]
    if skipped and len(skipped) == len(summary["mailboxes"]):
        return next(iter(skipped.values()))
    return None


def summary_table(summary: Mapping[str, Any]) -> str:
    """A table for the task log, at most WIDTH characters a line; the rejected lines below add up to
    the total in the table (records rejected on reading belong to no mailbox: their own row)."""
    cols = ("create", "update", "delete", "unchanged", "conflict", "rejected", "delete_blocked")
    # each at most 8 characters, in the admin's language ([oh_outlook] language)
    heads = (_("create"), _("update"), _("delete"), _("same"), _("conflict"), _("rejected"), _("blocked"))
    statuses = {"ok": _("ok"), "skipped": _("skipped"), "failed": _("failed"), "": ""}
    mailbox_head, status_head = _("mailbox"), _("status")
    header = f"{mailbox_head[:28]:28} {status_head[:7]:7} " + " ".join(f"{h[:8]:>8}" for h in heads)
    rule = "-" * len(header)
    lines = [header, rule]

    def row(name: str, status: str, counts: Mapping[str, int]) -> str:
        return f"{name[:28]:28} {statuses.get(status, status)[:7]:7} " + " ".join(f"{counts.get(c, 0):>8}" for c in cols)

    for mailbox, info in sorted(summary["mailboxes"].items(), key=lambda kv: kv[1].get("upn") or kv[0]):
        lines.append(row(info.get("upn") or mailbox, info["status"], info.get("counts") or {}))
    on_reading = sum(1 for r in summary.get("rejected", []) if not r.get("mailbox"))
    if on_reading:
        lines.append(row(_("(openHandwerk records)"), "", {"rejected": on_reading}))
    lines += [rule, row(_("total"), "", summary.get("totals") or {})]
    for mailbox, error in {**summary.get("skipped", {}), **summary.get("failed", {})}.items():
        upn = summary["mailboxes"][mailbox].get("upn") or mailbox
        lines.extend(wrapped(f"! {upn}: {error}"))
    return "\n".join(lines + rejected_lines(summary.get("rejected", [])))
