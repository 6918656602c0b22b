"""The setup checklist: every step of openHandwerk's Entra guide, checked in the guide's order.

`office365_checklist(hook)` and `openhandwerk_checklist(hook)` return a `Checklist` (runners/checklist.py): one `Step` per
line, each ``ok``, ``failed`` (with the fix naming the guide's step and the admin-center path),
``warning``, ``optional`` (a permission not granted, with what it would add) or ``not checked``
(with why). The hooks are passed in (duck-typed), so this module imports none of them; the
connection's Test (the hooks' ``test_connection``) and the setup DAG call it. What the token
allows is read from its ``roles`` claim (graph/permissions.py): nothing is claimed that the token
does not carry. Texts in the language of ``[oh_outlook] language`` (i18n).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pendulum

from oh_outlook_provider.exceptions import (
    ConfigurationError,
    GraphError,
    MailboxAccessDeniedError,
    MailboxNotEnabledError,
    OhOutlookError,
    PermissionMissingError,
)
from oh_outlook_provider.graph import paths
from oh_outlook_provider.graph import permissions as p
from oh_outlook_provider.graph.credentials import ADMIN_ZONE, expiry_in_entra, reconcile, registered
from oh_outlook_provider.graph.errors import APP_NAME
from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.checklist import FAILED, NOT_CHECKED, OK, OPTIONAL, WARNING, Checklist, Step, values_step
from oh_outlook_provider.sync.mapping import has_exchange

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
WARN_DAYS = 30  # a secret expiring sooner is a warning (the expiry sensor's default, too)
MAILBOXES_TRIED = 5  # licensed users whose calendar the check tries to read before giving up


def _where(page: str) -> str:
    return _("Microsoft Entra admin center > App registrations > {app} > {page}").format(app=APP_NAME, page=page)


def _guide(section: str, steps: str) -> str:
    return _("guide: {section}, step {steps}").format(section=section, steps=steps)


# ---------------------------------------------------------------------------------------------- Office 365
def office365_checklist(hook: Any, today: dt.date | None = None) -> Checklist:
    """Walk the guide against Entra and Graph through `hook` (an Office365Hook: settings, get_token,
    get, credential_valid_until). Never raises for a setup problem: each becomes a failed step."""
    try:
        s = hook.settings
    except ConfigurationError as exc:  # a wrong or missing value: the same lines as a task's error
        return Checklist("Office 365 / Microsoft Entra ID", (values_step(exc, "Office 365"),))
    today = today or pendulum.today(ADMIN_ZONE).date()  # the day in Germany, as the expiry's day and the sensor's
    register, secret_sec, perm_sec = _("Register the application"), _("Create the client secret"), _("Grant permissions")
    line: dict[str, Step] = {}

    def put(key: str, title: str, guide: str, status: str, detail: str, required: bool = True) -> None:
        line[key] = Step(key, title, guide, status, detail, required)

    t_tenant, t_app = _("Tenant ID (Mandanten-ID)"), _("Application (client) ID in this tenant")
    t_secret, t_expiry = _("Client secret: its VALUE"), _("Client secret expiry")
    g_tenant, g_app = _guide(_("Find the tenant ID"), "4"), _guide(register, "8")
    g_secret, g_expiry = _guide(secret_sec, "5"), _guide(secret_sec, "3")
    token, failure = None, None
    if not (GUID.match(s.tenant_id or "") or DOMAIN.match(s.tenant_id or "")):
        put("tenant", t_tenant, g_tenant, FAILED, _(
            "'{value}' is neither a GUID nor a domain name. Copy the tenant ID from Microsoft Entra admin center "
            "> Overview into the connection's field 'Tenant ID'.").format(value=s.tenant_id))
    else:
        try:
            token = hook.get_token()
        except OhOutlookError as exc:
            failure = exc
    code = getattr(failure, "code", None) or ""
    unreadable_key = isinstance(failure, ConfigurationError)  # the PEM key or thumbprint cannot be used
    is_cert = bool(s.certificate_private_key)
    secret_like_id = bool(not is_cert and GUID.match(s.client_secret or ""))
    if "tenant" not in line:
        if code == "AADSTS90002":
            put("tenant", t_tenant, g_tenant, FAILED, str(failure))
        elif unreadable_key:  # refused before Entra was asked: nothing about the tenant is known
            put("tenant", t_tenant, g_tenant, NOT_CHECKED, _("no token request: the certificate cannot be used (line 3)"))
        elif failure is not None and not code.startswith("AADSTS"):
            put("tenant", t_tenant, g_tenant, FAILED, str(failure))
        else:
            put("tenant", t_tenant, g_tenant, OK, _("Entra knows the tenant {tenant}.").format(tenant=s.tenant_id))
    if line["tenant"].status != OK:
        put("application", t_app, g_app, NOT_CHECKED, _("needs the tenant (line 1)"))
    elif not GUID.match(s.client_id or ""):
        put("application", t_app, g_app, FAILED, _(
            "'{value}' is not a GUID. Copy the Application (client) ID from {where} into the connection's field "
            "'Application (client) ID'.").format(value=s.client_id, where=_where(_("Overview"))))
    elif code == "AADSTS700016":
        put("application", t_app, g_app, FAILED, str(failure))
    else:
        put("application", t_app, g_app, OK, _("The app registration exists in this tenant."))
    app_ok = line["application"].status == OK
    if unreadable_key:
        put("secret", t_secret, g_secret, FAILED, str(failure))
    elif not app_ok:
        put("secret", t_secret, g_secret, NOT_CHECKED, _("needs the application (line 2)"))
    elif code == "AADSTS7000215" and secret_like_id:
        put("secret", t_secret, g_secret, FAILED, _(
            "The connection holds the secret's 'Secret ID' (a GUID), not its VALUE. Under {where} create a new "
            "client secret, copy the VALUE column at once and paste it into the field 'Client secret VALUE'.").format(
            where=_where(_("Certificates & secrets"))))
    elif failure is not None and code != "AADSTS7000222":
        put("secret", t_secret, g_secret, FAILED, str(failure))
    else:
        put("secret", t_secret, g_secret, OK, _("Entra accepted the certificate.") if is_cert else
            _("Entra accepted the client secret."))
    line_expiry_failed = code == "AADSTS7000222"
    if line_expiry_failed:
        line["secret"] = Step("secret", t_secret, g_secret, OK, _("The value matches a secret of the app."))
        put("expiry", t_expiry, g_expiry, FAILED, str(failure))
    roles = p.token_roles(token) if token else None
    application = _read_application(hook) if roles is not None and roles & p.APPLICATION_READERS else None
    if not line_expiry_failed:
        if token is None:
            put("expiry", t_expiry, g_expiry, NOT_CHECKED, _("no token: an earlier step failed"))
        else:
            put("expiry", t_expiry, g_expiry, *_expiry(hook, application, today))
    _permission_lines(put, roles, application, token is not None, perm_sec)
    _graph_lines(put, hook, roles, line)
    _optional_lines(put, roles)
    return Checklist("Office 365 / Microsoft Entra ID", tuple(line.values()))


def _read_application(hook: Any) -> dict | None:
    """The app registration (needs the optional Application.Read.All); None when unreadable."""
    try:
        return hook.get(paths.application(hook.settings.client_id),
                        params={"$select": "passwordCredentials,keyCredentials,requiredResourceAccess"}) or {}
    except GraphError:
        return None


def _expiry(hook: Any, application: dict | None, today: dt.date) -> tuple[str, str]:
    s = hook.settings
    typed = hook.credential_valid_until()
    kind = s.credential_kind
    source, note = _("the connection"), None
    valid_until = typed
    if application is not None:
        entra, which = expiry_in_entra(registered(application), s.client_secret,
                                       s.certificate_thumbprint if s.certificate_private_key else None)
        valid_until, note = reconcile(typed, entra, which, s.conn_id, kind)
        source = _("Entra") if entra else source
    if valid_until is None:
        return WARNING, _("No expiry date known: enter 'Client secret valid until' (the date shown under {where}) "
                          "or grant the optional Application.Read.All so Entra's date is read.").format(
            where=_where(_("Certificates & secrets")))
    days = (valid_until - today).days
    found = _("valid until {date} ({days} days left, date from {source}).").format(
        date=valid_until.isoformat(), days=days, source=source)
    if note:
        found += " " + note
    if days < WARN_DAYS:
        return WARNING, found + " " + _("Create the next secret under {where} now (Valid: 24 months).").format(
            where=_where(_("Certificates & secrets")))
    return (WARNING if note else OK), found


def _permission_lines(put: Any, roles: frozenset[str] | None, application: dict | None, has_token: bool,
                      section: str) -> None:
    t_type = _("Permission type Application (not Delegated)")
    t_consent = _("Admin consent (Administratorzustimmung)")
    api = _where(_("API permissions"))
    added = p.configured(application) if application is not None else None
    if added is None:
        put("type", t_type, _guide(section, "4"), NOT_CHECKED,
            _("needs the optional Application.Read.All to read the app registration") if has_token else
            _("no token: an earlier step failed"))
    else:
        delegated = [name for name in p.REQUIRED if added.get(name) == {"Scope"}]
        if delegated:
            put("type", t_type, _guide(section, "4"), FAILED, _(
                "{names} added as Delegated permission. In {where} remove it, then Add a permission > Microsoft Graph > "
                "Application permissions > {names}, and grant admin consent.").format(names=", ".join(delegated),
                                                                                      where=api))
        else:
            put("type", t_type, _guide(section, "4"), OK, _("The app's Graph permissions are of type Application."))
    consent_step = _guide(section, "11-12")
    for key, name, steps in (("user_read", p.USER_READ_ALL, "5-8"), ("calendars", p.CALENDARS_READ_WRITE, "9")):
        guide = _guide(section, steps)
        if roles is None:
            put(key, name, guide, NOT_CHECKED, _("no readable token: an earlier step failed"))
        elif not roles:
            put(key, name, guide, NOT_CHECKED, _("the token carries no application permission at all: see the admin "
                                                 "consent step"))
        elif name in roles:
            put(key, name, guide, OK, _("granted and consented (in the token's roles)."))
        elif name == p.CALENDARS_READ_WRITE and p.CALENDARS_READ in roles:
            put(key, name, guide, FAILED, _(
                "The token carries Calendars.Read, not Calendars.ReadWrite: the wrong permission was picked. In {where} "
                "add Microsoft Graph > Application permissions > Calendars.ReadWrite, remove Calendars.Read, and grant "
                "admin consent again.").format(where=api))
        elif added is not None and "Role" in added.get(name, set()):
            put(key, name, guide, FAILED, _(
                "{name} is added but not consented. In {where} click 'Grant admin consent for <your company>' and "
                "confirm with Yes.").format(name=name, where=api))
        else:
            put(key, name, guide, FAILED, _(
                "{name} is not in the token. In {where} add Microsoft Graph > Application permissions (not Delegated) "
                "> {name}, then grant admin consent.").format(name=name, where=api))
    if roles is None:
        put("consent", t_consent, consent_step, NOT_CHECKED, _("no readable token: an earlier step failed"))
    elif not roles:
        put("consent", t_consent, consent_step, FAILED, _(
            "The token carries no application permission: admin consent was not given. In {where} click 'Grant "
            "admin consent for <your company>' and confirm with Yes.").format(where=api))
    else:
        put("consent", t_consent, consent_step, OK, _("consented: {roles}").format(roles=", ".join(sorted(roles))))


def _graph_lines(put: Any, hook: Any, roles: frozenset[str] | None, line: dict[str, Step]) -> None:
    """Users readable, then one mailbox reachable: licence, then Exchange's scope (RBAC / access policy)."""
    t_users, t_mailbox = _("Users readable (User.Read.All)"), _("A mailbox reachable (Exchange Online)")
    g_users, g_mailbox = _("guide: note on User.Read.All"), _("Microsoft 365 admin center > Users > Active users")
    if roles is None:
        put("users", t_users, g_users, NOT_CHECKED, _("no readable token: an earlier step failed"))
        put("mailbox", t_mailbox, g_mailbox, NOT_CHECKED, _("no readable token: an earlier step failed"))
        return
    if not roles & p.USER_READERS:
        put("users", t_users, g_users, NOT_CHECKED, _("needs User.Read.All in the token (line 6)"))
        put("mailbox", t_mailbox, g_mailbox, NOT_CHECKED, _("needs the users (line 9)"))
        return
    try:
        listed = hook.get("/users", params={"$select": "id,userPrincipalName,assignedPlans", "$top": "999"})
        users = (listed or {}).get("value", [])
    except OhOutlookError as exc:
        put("users", t_users, g_users, FAILED, str(exc))
        put("mailbox", t_mailbox, g_mailbox, NOT_CHECKED, _("needs the users (line 9)"))
        return
    put("users", t_users, g_users, OK, _("{count} users on the first page.").format(count=len(users)))
    licensed = [u for u in users if has_exchange(u)]
    if not licensed:
        put("mailbox", t_mailbox, g_mailbox, FAILED, _(
            "No user has an Exchange Online licence: assign a licence that includes Exchange Online under "
            "Microsoft 365 admin center > Users > Active users > Licences and apps."))
        return
    denied, reached = [], None
    for user in licensed[:MAILBOXES_TRIED]:
        try:
            hook.get(paths.default_calendar(user["id"]), params={"$select": "id"})
            reached = user
            break
        except (MailboxAccessDeniedError, PermissionMissingError):
            denied.append(user)
        except MailboxNotEnabledError:
            continue
        except OhOutlookError as exc:
            put("mailbox", t_mailbox, g_mailbox, FAILED, str(exc))
            return
    calendars = line.get("calendars")
    if reached is None:
        if calendars is not None and calendars.status == FAILED:
            detail = _("No mailbox could be read: Calendars.ReadWrite is missing (see above). Only if you scope the "
                       "app with Exchange RBAC for Applications: add the users to the role assignment's management "
                       "scope.")
        else:
            detail = _("Exchange Online denies every mailbox tried ({count}): the app is scoped away from them. With "
                       "RBAC for Applications add the users to the management scope of the app's role assignment; "
                       "with an application access policy add them to the policy's group.").format(count=len(denied))
        put("mailbox", t_mailbox, g_mailbox, FAILED, detail)
        return
    who = reached.get("userPrincipalName") or reached["id"]
    put("mailbox", t_mailbox, g_mailbox, OK, _("calendar of {user} read (reading proves no write access).").format(
        user=who) + (" " + _("{count} mailbox(es) before it are scoped away.").format(count=len(denied))
                     if denied else ""))
    if calendars is not None and calendars.status == FAILED and p.CALENDARS_READ not in roles:
        line["calendars"] = Step("calendars", calendars.title, calendars.guide, WARNING, _(
            "Not in the token, yet a mailbox is reachable: access comes from Exchange RBAC for Applications. Writing "
            "is not proven by this check; the RBAC role must be 'Application Calendars.ReadWrite'."))


def _optional_lines(put: Any, roles: frozenset[str] | None) -> None:
    api = _where(_("API permissions"))
    for key, name, adds in (
            ("mailbox_settings", p.MAILBOX_SETTINGS, _("sets the colour of our category in each mailbox")),
            ("application_read", p.APPLICATION_READ_ALL,
             _("reads the secret's real expiry from Entra and checks the permission type (line 5)"))):
        title = _("{name} (optional)").format(name=name)
        if roles is None:
            put(key, title, "", NOT_CHECKED, _("no readable token: an earlier step failed"), required=False)
        elif name in roles:
            put(key, title, "", OK, _("granted: {adds}.").format(adds=adds), required=False)
        else:
            put(key, title, "", OPTIONAL, _("not granted; it {adds}. To add: {where} > Add a permission > "
                                           "Microsoft Graph > Application permissions > {name}, then grant admin "
                                           "consent.").format(adds=adds, where=api, name=name), required=False)


# ---------------------------------------------------------------------------------------------- the task
