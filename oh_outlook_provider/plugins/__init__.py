"""Airflow plugin shipped with the provider: a fix for the connection form's *Test* on Airflow 3.3.2.

Airflow 3.3.2's form sends `port: Number(connection.port)`, i.e. `0` for a connection without a
port, and the API then refuses the test of a stored connection with 400 "The host or port to test
differs from the stored connection" (0 is not the stored NULL; fixed after 3.3.2, apache/airflow
PR 73298). Our connection types hide the port, so every *Test* of a stored connection failed. This
root middleware drops `port: 0` from test requests of our connection types only; nothing else is
touched, and on an Airflow with the fix it changes nothing (0 and NULL are then the same).
Registered through the `airflow.plugins` entry point, so an admin does not have to know about it.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.plugins_manager import AirflowPlugin

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


class PortZeroTestFix:
    """A pure ASGI middleware: reads the body of `POST .../connections/test`, passes it on fixed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or \
                not str(scope.get("path", "")).rstrip("/").endswith("/connections/test"):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = without_port_zero(b"".join(chunks))
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
    fastapi_root_middlewares = [{"middleware": PortZeroTestFix, "name": "Test of stored connections without a port"}]
