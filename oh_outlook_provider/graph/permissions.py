"""Microsoft Graph permissions by name and id, and what an app-only access token says was consented.

Entra puts the application permissions that are granted *and* admin-consented into the access
token's ``roles`` claim (learn.microsoft.com/entra/identity-platform/access-token-claims-reference,
"roles"); an app-only token without consent carries no ``roles``. The app registration's
``requiredResourceAccess`` lists what the admin *added*, each as ``Role`` (Application) or ``Scope``
(Delegated) (learn.microsoft.com/graph/api/resources/requiredresourceaccess). The ids are Microsoft
Graph's published permission ids (learn.microsoft.com/graph/permissions-reference). No I/O here.
"""

from __future__ import annotations

import base64
import binascii
import json

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's resourceAppId
USER_READ_ALL = "User.Read.All"
CALENDARS_READ_WRITE = "Calendars.ReadWrite"
CALENDARS_READ = "Calendars.Read"
MAILBOX_SETTINGS = "MailboxSettings.ReadWrite"
APPLICATION_READ_ALL = "Application.Read.All"
REQUIRED = (USER_READ_ALL, CALENDARS_READ_WRITE)  # the guide's two, steps 5-9
USER_READERS = frozenset({USER_READ_ALL, "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
APPLICATION_READERS = frozenset({APPLICATION_READ_ALL, "Application.ReadWrite.All", "Directory.Read.All"})

# permission -> (id as Application permission, type "Role"; id as Delegated permission, type "Scope")
IDS: dict[str, tuple[str, str]] = {
    USER_READ_ALL: ("df021288-bdef-4463-88db-98f22de89214", "a154be20-db9c-4678-8ab7-66f6cc099a59"),
    CALENDARS_READ_WRITE: ("ef54d2bf-783f-4e0f-bca1-3210c0444d99", "1ec239c2-d7c9-4623-a91a-a9775856bb36"),
    CALENDARS_READ: ("798ee544-9d2d-430c-a058-570e29e34338", "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42"),
    MAILBOX_SETTINGS: ("6931bccd-447a-43d1-b442-00a195474933", "818c620a-27a9-40bd-a6a5-d96f7d610b4b"),
    APPLICATION_READ_ALL: ("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "c79f8feb-a9db-4090-85f9-90d820caa0eb"),
}
_BY_ID = {pid: (name, kind) for name, ids in IDS.items() for pid, kind in zip(ids, ("Role", "Scope"), strict=True)}


def token_roles(token: str) -> frozenset[str] | None:
    """The ``roles`` claim of an access token (a JWT), read without checking the signature: it is our
    own token, just received over TLS from the authority, and only tells us what Entra consented.
    Empty when the token has no ``roles``; None when the token is not a readable JWT (then nothing
    may be concluded from it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    roles = payload.get("roles") or []
    return frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else None


def configured(application: dict) -> dict[str, set[str]]:
    """Graph permissions the app registration lists (API-Berechtigungen), name -> {"Role", "Scope"}.
    Ids we do not know are left out."""
    found: dict[str, set[str]] = {}
    for resource in application.get("requiredResourceAccess") or []:
        if not isinstance(resource, dict) or resource.get("resourceAppId") != GRAPH_APP_ID:
            continue
        for access in resource.get("resourceAccess") or []:
            known = _BY_ID.get(str((access or {}).get("id") or "").lower())
            if known:
                found.setdefault(known[0], set()).add(known[1])
    return found


def required_resource_access(permissions: dict[str, str]) -> list[dict]:
    """The ``requiredResourceAccess`` value for `permissions` (name -> "Role" or "Scope")."""
    access = [{"id": IDS[name][0 if kind == "Role" else 1], "type": kind} for name, kind in sorted(permissions.items())]
    return [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}] if access else []
