"""Simulations for tests, demo and benchmarks: Outlook-side edits, openHandwerk changes, credentials."""

from __future__ import annotations

import datetime as dt
import secrets

from devtools.sandbox import oh_fields as f
from devtools.sandbox.events import update_event
from devtools.sandbox.state import SandboxState, Secret


def outlook_edit(state: SandboxState, user: str, event_id: str, changes: dict) -> dict:
    """A person edits an event in Outlook (changeKey and etag change)."""
    target = state.find_user(user)
    event = state.events[target.id][event_id]
    return update_event(state, target.id, event, changes)


def outlook_delete(state: SandboxState, user: str, event_id: str) -> None:
    target = state.find_user(user)
    with state.lock:
        del state.events[target.id][event_id]


def _shift(value: str, delta: dt.timedelta) -> str:
    if "T" in value:
        return (dt.datetime.fromisoformat(value) + delta).isoformat()
    return (dt.date.fromisoformat(value) + delta).isoformat()


def oh_change(state: SandboxState, action: str, appointment_id: str | None = None, **kw) -> dict | None:
    """move(days|hours) | retitle(title) | cancel | reassign(employees) | delete | new(record)."""
    with state.lock:
        if action == "new":
            record = dict(kw["record"])
            state.appointments[record[f.APPOINTMENT_ID]] = record
            return record
        record = state.appointments[appointment_id]
        if action == "move":
            delta = dt.timedelta(days=kw.get("days", 0), hours=kw.get("hours", 0))
            record[f.START], record[f.END] = _shift(record[f.START], delta), _shift(record[f.END], delta)
        elif action == "retitle":
            record[f.TITLE] = kw["title"]
        elif action == "cancel":
            record[f.STATUS] = f.CANCELLED
        elif action == "reassign":
            record[f.EMPLOYEES] = list(kw["employees"])
        elif action == "delete":
            return state.appointments.pop(appointment_id)
        else:
            raise ValueError(f"unknown action {action}")
        return dict(record)


def expire_secret(state: SandboxState) -> None:
    """Every secret of the app expired in Entra yesterday (AADSTS7000222; the connection's typed date is not touched)."""
    set_secret_expiry(state, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))


def rotate_secret(state: SandboxState, days: int = 730) -> str:
    """Add a new secret (as the admin does under Certificates & secrets) and return its value."""
    value = "sbx~" + secrets.token_urlsafe(24)
    with state.lock:
        state.apps[state.client_id].secrets.append(Secret(value, dt.datetime.now(dt.UTC) + dt.timedelta(days=days)))
    return value


def register_certificate(state: SandboxState, cert_pem: str, thumbprint: str) -> None:
    with state.lock:
        state.apps[state.client_id].certificates[thumbprint.upper()] = cert_pem


def churn(state: SandboxState, fraction: float = 0.1, seed: int = 1) -> dict[str, int]:
    """Change a share of the appointments like a busy week does: moves, retitles, cancellations, new ones."""
    import random

    rng = random.Random(seed)
    with state.lock:
        ids = sorted(a for a in state.appointments if not a.startswith("T-BAD"))
        chosen = rng.sample(ids, max(1, int(len(ids) * fraction))) if ids else []
        done = {"move": 0, "retitle": 0, "cancel": 0, "new": 0}
        for n, appointment_id in enumerate(chosen):
            action = ("move", "retitle", "cancel", "new")[n % 4]
            if action == "move":
                oh_change(state, "move", appointment_id, days=rng.choice([-2, -1, 1, 2]), hours=rng.choice([0, 1]))
            elif action == "retitle":
                oh_change(state, "retitle", appointment_id, title=state.appointments[appointment_id][f.TITLE] + " (geändert)")
            elif action == "cancel":
                oh_change(state, "cancel", appointment_id)
            else:
                record = dict(state.appointments[appointment_id])
                record |= {f.APPOINTMENT_ID: f"{appointment_id}-N", f.TITLE: "Zusatztermin",
                           f.EMPLOYEES: list(record.get(f.EMPLOYEES) or [])}
                oh_change(state, "new", record=record)
            done[action] += 1
    return done


def grant(state: SandboxState, permission: str) -> None:
    """The admin adds an application permission and grants consent (effective in the next token)."""
    with state.lock:
        state.apps[state.client_id].roles.add(permission)


def set_secret_expiry(state: SandboxState, ends: dt.datetime, value: str | None = None) -> None:
    """The expiry Entra holds for a secret (the connection's typed date is not touched)."""
    with state.lock:
        for secret in state.apps[state.client_id].secrets:
            if value is None or secret.value == value:
                secret.expires = ends


# ---------------------------------------------------------------------- the setup guide's classic mistakes
# Each reproduces one failure of the setup checklist (runners/setup_check.py); row K3 of the fidelity table.
def pick_calendars_read(state: SandboxState) -> None:
    """Guide step 9 gone wrong: Calendars.Read (listed first in the search) instead of Calendars.ReadWrite."""
    with state.lock:
        app = state.apps[state.client_id]
        app.roles = (app.roles - {"Calendars.ReadWrite"}) | {"Calendars.Read"}
        app.added = {role: "Role" for role in app.roles}


def withhold_consent(state: SandboxState) -> None:
    """Guide step 11 skipped: the permissions are added, admin consent is not given (no roles in the token)."""
    with state.lock:
        app = state.apps[state.client_id]
        app.added = {role: "Role" for role in app.roles} | (app.added or {})
        app.roles = set()


def add_as_delegated(state: SandboxState, permission: str = "Calendars.ReadWrite") -> None:
    """Guide step 4 gone wrong: `permission` added as Delegated (consented, but not an application role)."""
    with state.lock:
        app = state.apps[state.client_id]
        app.added = {role: "Role" for role in app.roles} | (app.added or {}) | {permission: "Scope"}
        app.roles.discard(permission)


def unlicense_everyone(state: SandboxState) -> None:
    """No user holds an Exchange Online plan any more (licences removed in the Microsoft 365 admin center)."""
    with state.lock:
        for user in state.users.values():
            user.assignedPlans = [plan for plan in user.assignedPlans if plan.get("service") != "exchange"]


def scope_rbac(state: SandboxState, user_ids: set[str] | frozenset[str] = frozenset()) -> None:
    """RBAC for Applications with a management scope of `user_ids` (empty: it excludes every mailbox);
    the tenant-wide consent for Calendars.ReadWrite is removed, as Microsoft's RBAC page says to (row A2)."""
    with state.lock:
        app = state.apps[state.client_id]
        app.roles.discard("Calendars.ReadWrite")
        app.rbac_user_ids, app.policy_user_ids = set(user_ids), None


def scope_policy(state: SandboxState, user_ids: set[str] | frozenset[str] = frozenset()) -> None:
    """An application access policy that allows only `user_ids` (empty: every mailbox is blocked)."""
    with state.lock:
        state.apps[state.client_id].policy_user_ids = set(user_ids)


# The connection values an admin typed wrong: Entra is as it should be, the connection is not. A tenant and an
# application that exist in no directory (fixed GUIDs, so a test names them), and the portal's "Secret ID".
UNKNOWN_TENANT = "00000000-0000-4000-8000-0000000a0002"
UNKNOWN_APP = "00000000-0000-4000-8000-0000000a0016"


def paste_secret_id(state: SandboxState) -> dict[str, str]:
    """Guide step 5 gone wrong: the secret's "Secret ID" (a GUID) copied instead of its value (AADSTS7000215)."""
    return {"password": state.secret_id}


def type_unknown_tenant(state: SandboxState) -> dict[str, dict[str, str]]:
    """A Mandanten-ID no directory has, e.g. from another customer's tenant (AADSTS90002)."""
    return {"extra": {"tenant_id": UNKNOWN_TENANT}}


def type_unknown_app(state: SandboxState) -> dict[str, str]:
    """An Anwendungs-ID the tenant does not know, e.g. the object ID or an app of another tenant (AADSTS700016)."""
    return {"login": UNKNOWN_APP}


def add_as_delegated_readably(state: SandboxState) -> None:
    """Guide step 4 gone wrong (Calendars.ReadWrite added as Delegated), with Application.Read.All granted:
    only then is the registration's requiredResourceAccess readable, and the mistake visible as such."""
    grant(state, "Application.Read.All")
    add_as_delegated(state)


def _in_entra(change):
    def apply(state: SandboxState) -> dict:
        change(state)
        return {}

    apply.__doc__ = change.__doc__
    return apply


# Every failure the setup checklist names -> the change: made in Entra/Exchange (answers {}), or the connection
# values the admin typed wrong (answered, to be put into the connection; nothing in the tenant changes).
MISTAKES = {
    "calendars_read": _in_entra(pick_calendars_read),
    "no_consent": _in_entra(withhold_consent),
    "delegated": _in_entra(add_as_delegated_readably),
    "secret_id": paste_secret_id,
    "expired_secret": _in_entra(expire_secret),
    "unknown_tenant": type_unknown_tenant,
    "unknown_app": type_unknown_app,
    "no_licence": _in_entra(unlicense_everyone),
    "rbac_excludes_all": _in_entra(scope_rbac),
    "policy_blocks_all": _in_entra(scope_policy),
}


def make_mistake(state: SandboxState, name: str) -> dict:
    """Reproduce the setup mistake `name` (a key of MISTAKES); the connection changes it needs (may be empty).
    Raises KeyError for an unknown name."""
    return MISTAKES[name](state)
