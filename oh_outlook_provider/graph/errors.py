"""What Entra ID's and Graph's error answers mean for the admin: the exception with the fix.

Entra answers a token request with AADSTS numbers (learn.microsoft.com/entra/identity-platform/
reference-error-codes); Graph answers with an HTTP status and an error code
(learn.microsoft.com/graph/errors). Each is turned into the provider's exception with the admin
center step that repairs it; the Graph paths name the permission a refusal is about. German IT
admins read these in the Airflow log: the texts follow `[oh_outlook] language` (i18n), with the
admin center's German names. Nothing here may ever include a secret or token.
"""

from __future__ import annotations

from oh_outlook_provider.exceptions import (
    AuthenticationError,
    GraphError,
    MailboxAccessDeniedError,
    MailboxNotEnabledError,
    NotFoundError,
    PermissionMissingError,
    SecretExpiredError,
)
from oh_outlook_provider.i18n import _

APP_NAME = "openHandwerk-Cloud"  # the app registration's name in the Entra guide the admin follows


def _conn_hint(conn_id: str) -> str:
    return _("Airflow connection '{conn_id}'").format(conn_id=conn_id)


def _secrets_page() -> str:
    return _("App registrations > {app} > Certificates & secrets in the Microsoft Entra admin center").format(
        app=APP_NAME)


def translate_token_error(result: dict, conn_id: str) -> AuthenticationError:
    """Turn msal's error dict into an admin-readable exception (no secret, no raw token)."""
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    where = _secrets_page()
    if 7000222 in codes:
        return SecretExpiredError(_(
            "AADSTS7000222: the client secret has expired. Create a new client secret under {where} (Valid: 24 "
            "months), copy its VALUE right away and paste it into {connection} (field 'Client secret VALUE'), and "
            "set 'Client secret valid until' to the new expiry date.").format(where=where,
                                                                              connection=_conn_hint(conn_id)),
            "AADSTS7000222",
        )
    if 7000215 in codes:
        return AuthenticationError(_(
            "AADSTS7000215: the client secret is wrong. Paste the secret's VALUE (shown only once when it was "
            "created), not its 'Secret ID', into {connection}. If the value is lost, create a new secret under "
            "{where}.").format(connection=_conn_hint(conn_id), where=where),
            "AADSTS7000215",
        )
    if 700016 in codes:
        return AuthenticationError(_(
            "AADSTS700016: no application with this Application (client) ID exists in the tenant. Copy the "
            "Application (client) ID from App registrations > {app} > Overview into {connection} and check that the "
            "Tenant ID (Mandanten-ID) is the same tenant.").format(app=APP_NAME, connection=_conn_hint(conn_id)),
            "AADSTS700016",
        )
    if 90002 in codes:
        return tenant_not_found(conn_id)
    error = result.get("error") or "unknown_error"
    first_line = (result.get("error_description") or "").splitlines()[0:1]
    return AuthenticationError(_(
        "Entra ID refused the token request ({error}): {detail}. Check tenant ID, application ID and client "
        "secret in {connection}.").format(error=error, detail=first_line[0] if first_line else _("no details"),
                                          connection=_conn_hint(conn_id)),
        error,
    )


def tenant_not_found(conn_id: str) -> AuthenticationError:
    return AuthenticationError(_(
        "AADSTS90002: the tenant was not found. Copy the Tenant ID (Mandanten-ID) from Microsoft Entra admin center "
        "> Overview into {connection}; check the national cloud setting too.").format(connection=_conn_hint(conn_id)),
        "AADSTS90002",
    )


PERMISSION_FOR_PATH = (
    ("/outlook/masterCategories", "MailboxSettings.ReadWrite"),
    ("/applications", "Application.Read.All"),
    ("/calendar", "Calendars.ReadWrite"),
    ("/events", "Calendars.ReadWrite"),
    ("/users", "User.Read.All"),
)


def permission_for(path: str) -> str:
    """The application permission a refused Graph path needs, with what an optional one is for."""
    for marker, permission in PERMISSION_FOR_PATH:
        if marker in path:
            if permission == "MailboxSettings.ReadWrite":
                return _("MailboxSettings.ReadWrite (optional: category colours)")
            if permission == "Application.Read.All":
                return _("Application.Read.All (optional: reads the secret's expiry from Entra)")
            return permission
    return _("User.Read.All and Calendars.ReadWrite")


def translate_graph_error(
    status: int, body: dict | None, method: str, path: str, mailbox: str | None
) -> GraphError:
    """Map a Graph error response to the matching exception with a fix."""
    error = (body or {}).get("error") or {}
    code = error.get("code") or ""
    message = (error.get("message") or "").splitlines()[0:1]
    detail = message[0] if message else ""
    what = f"{method} {path}"
    if code == "MailboxNotEnabledForRESTAPI" or "MailboxNotEnabled" in code:
        return MailboxNotEnabledError(_(
            "Mailbox {mailbox} has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI). Assign a licence that "
            "includes Exchange Online in the Microsoft 365 admin center, or map this employee to another user.").format(
            mailbox=mailbox or "?"),
            status,
            code,
        )
    if status == 403 and code == "ErrorAccessDenied" and mailbox and "/outlook/" not in path:
        # Graph answers a policy block and a missing Calendars permission with the same code; the
        # policy's message names it ("... AppOnly AccessPolicy ..."), a missing consent does not:
        # then the missing permission (guide step 9, consent step 11) is named first, the scope second.
        policy = "accesspolicy" in detail.replace(" ", "").lower()
        scope = _(
            "Exchange Online scopes the app away from this mailbox: with RBAC for Applications add the user to the "
            "management scope of the app's 'Application Calendars.ReadWrite' role assignment; with an (older) "
            "application access policy add the user to the policy's group; or leave the employee unmapped.")
        if policy:
            text = _("Access to mailbox {mailbox} is denied (ErrorAccessDenied, application access policy).").format(
                mailbox=mailbox) + " " + scope
        else:
            text = _(
                "Access to mailbox {mailbox} is denied (ErrorAccessDenied). If every mailbox is denied, the "
                "application permission Calendars.ReadWrite is missing or lacks admin consent: App registrations > "
                "{app} > API permissions > add Microsoft Graph > Application permissions > Calendars.ReadWrite, then "
                "'Grant admin consent'. If only some mailboxes are denied:").format(mailbox=mailbox, app=APP_NAME) + \
                " " + scope
        return MailboxAccessDeniedError(text, status, code)
    if status == 403:
        permission = permission_for(path)
        return PermissionMissingError(_(
            "{what} was refused ({code}): the application permission {permission} is missing or not consented. In "
            "App registrations > {app} > API permissions add Microsoft Graph > Application > {permission}, then click "
            "'Grant admin consent'.").format(what=what, code=code or "Forbidden", permission=permission, app=APP_NAME),
            status,
            code,
        )
    if status == 404:
        return NotFoundError(_("{what}: not found ({code}) {detail}").format(
            what=what, code=code or "ResourceNotFound", detail=detail).strip(), status, code)
    if status == 401:
        return GraphError(_(
            "{what}: Graph rejected the access token ({code}: {detail}) even after a fresh token was requested. If "
            "every call fails like this, check that the tenant and national cloud of the connection match.").format(
            what=what, code=code or "Unauthorized", detail=detail or _("no detail")),
            status,
            code,
        )
    return GraphError(_("{what} failed with HTTP {status} {code}: {detail}").format(
        what=what, status=status, code=code, detail=detail).strip(), status, code)
