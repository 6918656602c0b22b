"""What Entra ID's and Graph's error answers mean for the admin: the exception with the fix.

Entra answers a token request with AADSTS numbers (learn.microsoft.com/entra/identity-platform/
reference-error-codes); Graph answers with an HTTP status and an error code
(learn.microsoft.com/graph/errors). Each is turned into the provider's exception with the admin
center step that repairs it; the Graph paths name the permission a refusal is about. German IT
admins read these in the Airflow log. Nothing here may ever include a secret or token.
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

APP_NAME = "openHandwerk-Cloud"  # the app registration's name in the Entra guide the admin follows


def _conn_hint(conn_id: str) -> str:
    return f"Airflow connection '{conn_id}'"


def translate_token_error(result: dict, conn_id: str) -> AuthenticationError:
    """Turn msal's error dict into an admin-readable exception (no secret, no raw token)."""
    codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
    where = (
        f"App registrations > {APP_NAME} > Certificates & secrets in the Microsoft Entra admin center"
    )
    if 7000222 in codes:
        return SecretExpiredError(
            "AADSTS7000222: the client secret has expired. Create a new client secret under "
            f"{where} (Valid: 24 months), copy its VALUE right away and paste it into "
            f"{_conn_hint(conn_id)} (field 'Client secret VALUE'), and set 'Client secret valid until' "
            "to the new expiry date.",
            "AADSTS7000222",
        )
    if 7000215 in codes:
        return AuthenticationError(
            "AADSTS7000215: the client secret is wrong. Paste the secret's VALUE (shown only once "
            "when it was created), not its 'Secret ID', into "
            f"{_conn_hint(conn_id)}. If the value is lost, create a new secret under {where}.",
            "AADSTS7000215",
        )
    if 700016 in codes:
        return AuthenticationError(
            "AADSTS700016: no application with this Application (client) ID exists in the tenant. "
            f"Copy the Anwendungs-ID from App registrations > {APP_NAME} > Overview into "
            f"{_conn_hint(conn_id)} and check that the Tenant ID (Mandanten-ID) is the same tenant.",
            "AADSTS700016",
        )
    if 90002 in codes:
        return tenant_not_found(conn_id)
    error = result.get("error") or "unknown_error"
    first_line = (result.get("error_description") or "").splitlines()[0:1]
    return AuthenticationError(
        f"Entra ID refused the token request ({error}): {first_line[0] if first_line else 'no details'}. "
        f"Check tenant ID, application ID and client secret in {_conn_hint(conn_id)}.",
        error,
    )


def tenant_not_found(conn_id: str) -> AuthenticationError:
    return AuthenticationError(
        "AADSTS90002: the tenant was not found. Copy the Tenant ID (Mandanten-ID) from Microsoft Entra "
        f"admin center > Overview into {_conn_hint(conn_id)}; check the national cloud setting too.",
        "AADSTS90002",
    )


PERMISSION_FOR_PATH = (
    ("/outlook/masterCategories", "MailboxSettings.ReadWrite (optional: category colours)"),
    ("/applications", "Application.Read.All (optional: reads the secret's expiry from Entra)"),
    ("/calendar", "Calendars.ReadWrite"),
    ("/events", "Calendars.ReadWrite"),
    ("/users", "User.Read.All"),
)


def permission_for(path: str) -> str:
    for marker, permission in PERMISSION_FOR_PATH:
        if marker in path:
            return permission
    return "User.Read.All and Calendars.ReadWrite"


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
        return MailboxNotEnabledError(
            f"Mailbox {mailbox or '?'} has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI). "
            "Assign a licence that includes Exchange Online in the Microsoft 365 admin center, "
            "or map this employee to another user.",
            status,
            code,
        )
    if status == 403 and code == "ErrorAccessDenied" and mailbox and "/outlook/" not in path:
        # Graph answers a policy block and a missing Calendars permission with the same code; the
        # policy's message names it ("... AppOnly AccessPolicy ..."), a missing consent does not.
        policy = "accesspolicy" in detail.replace(" ", "").lower()
        return MailboxAccessDeniedError(
            f"Access to mailbox {mailbox} is denied (ErrorAccessDenied). Exchange Online scopes the app "
            "away from this mailbox: with RBAC for Applications add the user to the management scope of the "
            "app's 'Application Calendars.ReadWrite' role assignment; with an (older) application access "
            "policy add the user to the policy's group; or leave the employee unmapped."
            + ("" if policy else " If every mailbox is denied, Calendars.ReadWrite (Application) lacks admin "
               f"consent: App registrations > {APP_NAME} > API permissions > 'Grant admin consent'."),
            status,
            code,
        )
    if status == 403:
        permission = permission_for(path)
        return PermissionMissingError(
            f"{what} was refused ({code or 'Forbidden'}): the application permission {permission} is "
            f"missing or not consented. In App registrations > {APP_NAME} > API permissions add "
            f"Microsoft Graph > Application > {permission}, then click 'Grant admin consent'.",
            status,
            code,
        )
    if status == 404:
        return NotFoundError(f"{what}: not found ({code or 'ResourceNotFound'}) {detail}".strip(), status, code)
    if status == 401:
        return GraphError(
            f"{what}: Graph rejected the access token ({code or 'Unauthorized'}: {detail or 'no detail'}) even "
            "after a fresh token was requested. If every call fails like this, check that the tenant and "
            "national cloud of the connection match.",
            status,
            code,
        )
    return GraphError(f"{what} failed with HTTP {status} {code}: {detail}".strip(), status, code)
