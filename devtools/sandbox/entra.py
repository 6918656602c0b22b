"""Entra ID token service: OpenID discovery and the client-credentials grant, with AADSTS errors."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from devtools.sandbox.state import SandboxState
from devtools.sandbox.tokens import issue_access_token

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def aad_error(status: int, error: str, code: int, text: str) -> tuple[int, dict]:
    trace = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {uuid.uuid4()}\r\n"
        f"Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
        "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
    }


def tenant_missing(tenant: str) -> tuple[int, dict]:
    return aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the "
                     "correct tenant ID and are signing into the correct cloud.")


def discovery(state: SandboxState, base_url: str, tenant: str) -> tuple[int, dict]:
    if tenant not in state.tenants:
        return tenant_missing(tenant)
    root = f"{base_url}/{tenant}"
    return 200, {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "issuer": f"{root}/v2.0",
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "tenant_region_scope": "EU",
    }


def token(state: SandboxState, base_url: str, tenant: str, form: dict[str, Any]) -> tuple[int, dict]:
    with state.lock:
        state.counters.token_requests += 1
    if tenant not in state.tenants:
        return tenant_missing(tenant)
    if form.get("grant_type") != "client_credentials":
        return aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
    client_id = form.get("client_id", "")
    app = state.apps.get(client_id)
    if app is None:
        return aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                         f"found in the directory '{tenant}'.")
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        return aad_error(400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client "
                         "credential flows must have a scope value with /.default suffixed to the resource identifier.")
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        failure = _check_assertion(app, form.get("client_assertion", ""), f"{base_url}/{tenant}/oauth2/v2.0/token")
        if failure:
            return failure
    else:
        secret = form.get("client_secret")
        if not secret:
            return aad_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or "
                             "'request' is required for the 'client_credentials' grant type.")
        match = next((s for s in app.secrets if s.value == secret), None)
        if match is None:
            return aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                             "sent in the request is the client secret value, not the client secret ID, for a "
                             f"secret added to app '{client_id}'.")
        if match.expires <= dt.datetime.now(dt.UTC):
            return aad_error(401, "invalid_client", 7000222, "The provided client secret keys for app "
                             f"'{client_id}' are expired. Visit the Azure portal to create new keys for your app.")
    access_token, lifetime = issue_access_token(state, tenant, client_id, app.roles)
    return 200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                 "access_token": access_token}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _check_assertion(app, assertion: str, audience: str) -> tuple[int, dict] | None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return aad_error(401, "invalid_client", 700024, "Client assertion is not a valid JWT.")
    cert = None
    for pem in app.certificates.values():
        candidate = x509.load_pem_x509_certificate(pem.encode())
        der = candidate.public_bytes(Encoding.DER)
        x5t, x5t256 = (str(header.get(k) or "").rstrip("=") for k in ("x5t", "x5t#S256"))  # msal pads
        if x5t == _b64url(hashlib.sha1(der).digest()) or x5t256 == _b64url(hashlib.sha256(der).digest()):  # noqa: S324
            cert = candidate
    if cert is None:
        return aad_error(401, "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - "
                         "The key was not found.]")
    try:
        claims = jwt.decode(assertion, cert.public_key(), algorithms=["RS256", "PS256"], audience=audience)
    except jwt.ExpiredSignatureError:
        return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
    except jwt.PyJWTError as exc:
        return aad_error(401, "invalid_client", 700027, f"Client assertion failed signature validation. ({exc})")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return aad_error(401, "invalid_client", 700023, "Client assertion audience/issuer claim does not match.")
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        return aad_error(401, "invalid_client", 700027, "The certificate has expired.")
    return None
