"""Airflow plugin shipped with the provider: two fixes for the connection form of Airflow 3.x.

1. *Test* of a stored connection, on Airflow 3.3.1 and 3.3.2 only.

Their form sends `port: Number(connection.port)`, i.e. `0` for a connection without a port, and
the API then refuses the test of a stored connection with 400 "The host or port to test differs
from the stored connection" (0 is not the stored NULL; the check came in 3.3.1 and treats 0 as
blank from 3.4.0b2 on, apache/airflow PR 73298). Our connection types hide the port, so every
*Test* of a stored connection failed. On those lines (`version_compat.CONNECTION_TEST_REFUSES_PORT_ZERO`)
this root middleware drops `port: 0` from test requests of our connection types only; on every
other line the request passes untouched (3.1 and 3.2 fill in the stored values without the check;
3.0 has no Test button and tests the values as sent).

2. The edit form shows only the extra fields a connection already has, so a connection saved
without, say, a certificate could never get one in the form. Connections of our types are saved
with every field of their form (empty where not given), so the edit form always shows them all.

Registered through the `airflow.plugins` entry point, so an admin does not have to know about it.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from oh_outlook_provider import version_compat

OUR_CONNECTION_TYPES = frozenset({"office365", "openhandwerk"})


def without_port_zero(body: bytes) -> bytes:
    """The request body, without `port: 0` when it tests one of our connection types."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") not in OUR_CONNECTION_TYPES:
        return body
    if data.get("port") not in (0, "0"):
        return body
    data.pop("port")
    return json.dumps(data).encode()


def _form_fields(conn_type: str) -> dict[str, Any]:
    from oh_outlook_provider.get_provider_info import get_provider_info

    for kind in get_provider_info()["connection-types"]:
        if kind["connection-type"] == conn_type:
            return kind.get("conn-fields", {})
    return {}


def _empty(field: dict[str, Any]) -> Any:
    schema = field.get("schema", {})
    types = schema.get("type", [])
    return schema.get("default", "" if "string" in types else None)


def with_every_field(body: bytes) -> bytes:
    """A connection saved with all extra fields of its form: the missing ones empty (or their default)."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("conn_type") not in OUR_CONNECTION_TYPES or "extra" not in data:
        return body  # no extra sent (an API PATCH of the password, say): an added one would replace the stored
    raw = data.get("extra")
    try:
        extra = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    except ValueError:
        return body  # Airflow answers the broken JSON itself
    if not isinstance(extra, dict):
        return body
    missing = {key: _empty(field) for key, field in _form_fields(data["conn_type"]).items() if key not in extra}
    if not missing:
        return body
    data["extra"] = json.dumps({**extra, **missing})
    return json.dumps(data).encode()


def _fix_for(scope: dict) -> Any:
    """Which fix a request needs: the test, or saving a connection (create, or edit by id)."""
    if scope.get("type") != "http":
        return None
    path, method = str(scope.get("path", "")).rstrip("/"), scope.get("method")
    if method == "POST" and path.endswith("/connections/test"):
        return without_port_zero if version_compat.CONNECTION_TEST_REFUSES_PORT_ZERO else None
    if "/api/v2/connections" in path and (method == "POST" and path.endswith("/connections")
                                          or method == "PATCH" and "/connections/" in path):
        return with_every_field
    return None


class ConnectionFormFix:
    """A pure ASGI middleware: reads the body of a connection test or save, passes it on fixed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        fix = _fix_for(scope)
        if fix is None:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = fix(b"".join(chunks))
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


class OhOutlookPlugin(AirflowPlugin):
    name = "oh_outlook_provider"
    fastapi_root_middlewares = [{"middleware": ConnectionFormFix,
                                 "name": "Connection form: Test without port 0 (3.3.1-3.3.2), every field kept"}]
