"""One user-mapping run: users from Graph, employees from openHandwerk, the pure mapping, mailbox probes."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oh_outlook_provider.exceptions import MailboxAccessDeniedError, MailboxNotEnabledError
from oh_outlook_provider.graph import paths
from oh_outlook_provider.i18n import _, carried
from oh_outlook_provider.runners.log_lines import wrapped
from oh_outlook_provider.sync.mapping import BLOCKED, MATCHED, NO_MAILBOX, MappingResult, graph_user, map_employees
from oh_outlook_provider.sync.models import Employee, Rejected


def run_user_mapping(
    graph: Any,
    openhandwerk: Any,
    overrides: Mapping[str, str] | None = None,
    verify_mailboxes: bool = True,
    max_workers: int = 8,
) -> tuple[MappingResult, list[Rejected]]:
    users = [graph_user(u) for u in graph.iter_users()]
    employees: list[Employee] = []
    rejected: list[Rejected] = []
    for record in openhandwerk.iter_employees():
        (rejected if isinstance(record, Rejected) else employees).append(record)
    result = map_employees(employees, users, overrides)
    if verify_mailboxes:
        matched = [e for e in result.entries if e.outcome == MATCHED]

        def probe(entry: Any) -> tuple[str, str | None]:
            try:
                graph.get(paths.default_calendar(entry.user_id), params={"$select": "id"})
            except MailboxNotEnabledError:
                return entry.employee_id, NO_MAILBOX
            except MailboxAccessDeniedError:
                return entry.employee_id, BLOCKED
            return entry.employee_id, None

        with ThreadPoolExecutor(max_workers=max(1, max_workers), **carried()) as pool:
            for employee_id, outcome in pool.map(probe, matched):
                if outcome:
                    result = result.with_outcome(employee_id, outcome)
    return result, rejected


def mapping_output(result: MappingResult, rejected: list[Rejected]) -> dict:
    """The mapping's XCom: `MappingResult.to_dict()` and the rejected employee records (id and reason)."""
    out = result.to_dict()
    out["rejected_employees"] = [{"record_id": r.record_id, "reason": r.reason} for r in rejected]
    return out


def mapping_table(result: MappingResult, rejected: list[Rejected] = ()) -> str:
    """A table for the task log, at most WIDTH characters a line:
    the Microsoft 365 user, and the openHandwerk address below it only where the two differ."""
    heads = (_("employee"), _("name"), _("outcome"), _("Microsoft 365 user (else the openHandwerk e-mail)"))
    header = f"{heads[0][:8]:8} {heads[1][:20]:20} {heads[2][:19]:19} {heads[3][:50]:50}"
    lines = [header, "-" * len(header)]
    for e in result.entries:
        shown = e.upn or e.email or "-"
        lines.append(f"{e.employee_id[:8]:8} {e.employee_name[:20]:20} {e.outcome[:19]:19} {shown[:50]}")
        if e.upn and e.email and e.email.casefold() != e.upn.casefold():
            lines.append(f"{'':50}openHandwerk: {e.email[:36]}")
    lines.append("-" * len(header))
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(result.counts().items()))
    lines.extend(wrapped(_("{count} employees ({counts}); {users} Microsoft 365 users, {unmatched} without an employee "
                           "(not listed)").format(count=len(result.entries), counts=counts, users=result.users_total,
                                                  unmatched=result.users_unmatched)))
    for e in result.entries:
        if e.outcome != MATCHED:
            lines.extend(wrapped(f"  {e.employee_id} {e.employee_name}: {_(e.reason)}"))  # msgids: sync.mapping
    for r in rejected:
        lines.extend(wrapped("  " + _("rejected employee record {record}: {reason}").format(record=r.record_id,
                                                                                         reason=r.reason)))
    return "\n".join(lines)
