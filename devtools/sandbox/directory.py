"""The app registration as Entra's directory shows it through Graph: `GET /applications(appId='...')`.

Fidelity row K2: the application object lists its client secrets (`passwordCredentials`: keyId,
displayName, hint = the first three characters, start/end; the value never) and certificates
(`keyCredentials`: customKeyIdentifier = the thumbprint, start/end, type, usage), and the API
permissions as added (`requiredResourceAccess`: Graph's permission ids, type Role or Scope; row K3). Reading it as
the app itself needs Application.Read.All (or Application.ReadWrite.All / Directory.Read.All);
without: `403 Authorization_RequestDenied` (application-get page, "Permissions").
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING

from cryptography import x509

from devtools.sandbox.answers import GraphFault
from devtools.sandbox.shown import select_of
from oh_outlook_provider.graph.permissions import IDS, required_resource_access  # Graph's published ids
from oh_outlook_provider.graph.schema import properties_of  # Microsoft's fact: derived from Graph's CSDL

if TYPE_CHECKING:
    from devtools.sandbox.state import App, SandboxState

READERS = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"})
ALTERNATE_KEY = re.compile(r"^applications\(appId='([^']*)'\)$", re.IGNORECASE)
DEFAULT_SELECT = ("id", "appId", "displayName", "passwordCredentials", "keyCredentials")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_id(app: App) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"application/{app.client_id}"))


def application_object(app: App) -> dict:
    password_credentials = [
        {"customKeyIdentifier": None, "displayName": s.description, "endDateTime": _iso(s.expires),
         "hint": s.value[:3], "keyId": s.key_id, "secretText": None, "startDateTime": _iso(s.created)}
        for s in app.secrets
    ]
    key_credentials = []
    for thumbprint, pem in sorted(app.certificates.items()):
        cert = x509.load_pem_x509_certificate(pem.encode())
        key_credentials.append({
            "customKeyIdentifier": base64.b64encode(bytes.fromhex(thumbprint)).decode(),
            "displayName": cert.subject.rfc4514_string(), "endDateTime": _iso(cert.not_valid_after_utc),
            "key": None, "keyId": str(uuid.uuid5(uuid.NAMESPACE_OID, thumbprint)),
            "startDateTime": _iso(cert.not_valid_before_utc), "type": "AsymmetricX509Cert", "usage": "Verify",
        })
    added = app.added if app.added is not None else {role: "Role" for role in app.roles if role in IDS}
    return {"id": object_id(app), "appId": app.client_id, "displayName": "openHandwerk Outlook Sync",
            "passwordCredentials": password_credentials, "keyCredentials": key_credentials,
            "requiredResourceAccess": required_resource_access({k: v for k, v in added.items() if k in IDS})}


def get_application(state: SandboxState, segments: tuple[str, ...], query: dict, roles: set[str]) -> dict:
    """`/applications(appId='{appId}')` or `/applications/{id}`, with `$select`."""
    if not roles & READERS:
        raise GraphFault(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    match = ALTERNATE_KEY.match(segments[0]) if len(segments) == 1 else None
    with state.lock:
        apps = list(state.apps.values())
    if match:
        app = next((a for a in apps if a.client_id == match.group(1)), None)
    elif len(segments) == 2 and segments[0].lower() == "applications":
        app = next((a for a in apps if object_id(a) == segments[1]), None)
    else:
        raise GraphFault(400, "BadRequest", "Unsupported path.")
    if app is None:
        raise GraphFault(404, "Request_ResourceNotFound", f"Resource '{match.group(1) if match else segments[1]}' "
                         "does not exist or one of its queried reference-property objects are not present.")
    select = select_of(query) or list(DEFAULT_SELECT)
    known = properties_of("application")
    unknown = [s for s in select if s not in known]
    if unknown:
        raise GraphFault(400, "Request_BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                         "'Microsoft.DirectoryServices.Application'.")
    shown = application_object(app)
    return {"id": shown["id"]} | {k: shown[k] for k in select if k in shown}
