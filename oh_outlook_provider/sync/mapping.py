"""Employees x Microsoft 365 users -> who gets a calendar, and why the others do not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from oh_outlook_provider.sync.models import Employee, GraphUser

MATCHED = "matched"
NO_LICENCE = "no_exchange_licence"
DISABLED = "account_disabled"
AMBIGUOUS = "ambiguous"
NO_USER = "no_user"
NO_EMAIL = "no_email"
OVERRIDE_MISSING = "override_target_missing"
NO_MAILBOX = "no_mailbox"
BLOCKED = "blocked_by_policy"


def N_(message: str) -> str:
    """`message` unchanged: marks it for the catalog (Babel keyword ``N_``) in this pure module, which
    imports no i18n; the task log translates it where it shows it (runners/user_mapping.py)."""
    return message


# The reason of each outcome: English here (the XCom's `reason`), the admin's language in the task log.
EXPLANATION = {
    MATCHED: N_("calendar will be synced"),
    NO_LICENCE: N_("Microsoft 365 user has no enabled Exchange Online plan: assign a licence with Exchange"),
    DISABLED: N_("Microsoft 365 account is disabled (sign-in blocked)"),
    AMBIGUOUS: N_("the e-mail address belongs to several Microsoft 365 users: add an override"),
    NO_USER: N_("no Microsoft 365 user has this e-mail address (mail, UPN, aliases): add an override"),
    NO_EMAIL: N_("employee has no e-mail address in openHandwerk"),
    OVERRIDE_MISSING: N_("the override names a user that does not exist in the tenant"),
    NO_MAILBOX: N_("user has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI)"),
    BLOCKED: N_("an application access policy blocks this mailbox (ErrorAccessDenied)"),
}


@dataclass(frozen=True)
class MappingEntry:
    employee_id: str
    employee_name: str
    email: str | None
    outcome: str
    user_id: str | None = None
    upn: str | None = None
    display_name: str | None = None
    via: str | None = None  # which address or override matched

    @property
    def reason(self) -> str:
        return EXPLANATION.get(self.outcome, self.outcome)


@dataclass(frozen=True)
class MappingResult:
    entries: tuple[MappingEntry, ...]
    users_total: int
    users_unmatched: int

    def mapping(self) -> dict[str, dict[str, str | None]]:
        return {
            e.employee_id: {"user_id": e.user_id, "upn": e.upn, "display_name": e.display_name}
            for e in self.entries
            if e.outcome == MATCHED
        }

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.entries:
            out[entry.outcome] = out.get(entry.outcome, 0) + 1
        return out

    def with_outcome(self, employee_id: str, outcome: str) -> MappingResult:
        entries = tuple(replace(e, outcome=outcome) if e.employee_id == employee_id else e for e in self.entries)
        return replace(self, entries=entries)

    def to_dict(self) -> dict:
        """JSON-serialisable result for XCom; unmatched users are counted, never listed."""
        return {
            "mapping": self.mapping(),
            "counts": self.counts(),
            "users_total": self.users_total,
            "users_unmatched": self.users_unmatched,
            "employees": [asdict(e) | {"reason": e.reason} for e in self.entries],
        }


def has_exchange(user: Mapping) -> bool:
    """True when a Graph user holds an enabled Exchange Online plan (so a mailbox can exist)."""
    return any(
        (plan.get("service") or "").lower() == "exchange"
        and (plan.get("capabilityStatus") or "").lower() == "enabled"
        for plan in user.get("assignedPlans") or []
    )


def graph_user(raw: Mapping) -> GraphUser:
    return GraphUser(
        id=str(raw["id"]),
        display_name=raw.get("displayName") or "",
        user_principal_name=raw.get("userPrincipalName") or "",
        mail=raw.get("mail"),
        other_mails=tuple(raw.get("otherMails") or ()),
        proxy_addresses=tuple(raw.get("proxyAddresses") or ()),
        account_enabled=raw.get("accountEnabled") is not False,
        has_exchange=has_exchange(raw),
    )


def _norm(text: str | None) -> str:
    return (text or "").strip().casefold()


def map_employees(
    employees: Iterable[Employee],
    users: Iterable[GraphUser],
    overrides: Mapping[str, str] | None = None,
) -> MappingResult:
    """Match each employee to one user by e-mail (casefolded; mail, UPN, proxies, otherMails).

    Overrides map an employee id or e-mail to a user id, UPN or address and win over
    automatic matches.
    """
    users = list(users)
    by_id = {u.id.casefold(): u for u in users}
    by_address: dict[str, list[GraphUser]] = {}
    for user in users:
        for address in user.addresses():
            by_address.setdefault(address, []).append(user)
    norm_overrides = {_norm(k): v for k, v in (overrides or {}).items()}

    entries = []
    for emp in employees:
        override = norm_overrides.get(_norm(emp.id)) or (emp.email and norm_overrides.get(_norm(emp.email)))
        if override:
            target = by_id.get(_norm(override)) or _unique(by_address.get(_norm(override), []))
            entries.append(_entry(emp, target, f"override {override}") if target else
                           _bare(emp, OVERRIDE_MISSING, f"override {override}"))
            continue
        if not emp.email:
            entries.append(_bare(emp, NO_EMAIL))
            continue
        candidates = by_address.get(_norm(emp.email), [])
        if len(candidates) > 1:
            entries.append(_bare(emp, AMBIGUOUS, ", ".join(sorted(u.user_principal_name for u in candidates))))
        elif not candidates:
            entries.append(_bare(emp, NO_USER))
        else:
            entries.append(_entry(emp, candidates[0], _via(candidates[0], emp.email)))
    matched_ids = {e.user_id for e in entries if e.user_id}
    return MappingResult(tuple(entries), len(users), sum(1 for u in users if u.id not in matched_ids))


def _unique(users: list[GraphUser]) -> GraphUser | None:
    return users[0] if len(users) == 1 else None


def _via(user: GraphUser, email: str) -> str:
    wanted = _norm(email)
    if _norm(user.mail) == wanted:
        return "mail"
    if _norm(user.user_principal_name) == wanted:
        return "userPrincipalName"
    if any(_norm(a) == wanted for a in user.other_mails):
        return "otherMails"
    return "proxyAddresses"


def _bare(emp: Employee, outcome: str, via: str | None = None) -> MappingEntry:
    return MappingEntry(emp.id, emp.name, emp.email, outcome, via=via)


def _entry(emp: Employee, user: GraphUser, via: str) -> MappingEntry:
    if not user.account_enabled:
        outcome = DISABLED
    elif not user.has_exchange:
        outcome = NO_LICENCE
    else:
        outcome = MATCHED
    return MappingEntry(
        emp.id, emp.name, emp.email, outcome, user.id, user.user_principal_name, user.display_name, via
    )
