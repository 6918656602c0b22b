"""The provider's Airflow plugin: the connection form's Test works for stored connections on 3.3.2 (issue 13 item 1)."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from oh_outlook_provider.plugins import OhOutlookPlugin, PortZeroTestFix, without_port_zero


def echo_app() -> TestClient:
    """Stands in for Airflow's route: answers with the body and Content-Length it received."""
    app = FastAPI()

    @app.post("/api/v2/connections/test")
    async def test(request: Request) -> dict:
        return {"body": json.loads(await request.body()), "length": request.headers.get("content-length")}

    @app.post("/api/v2/connections")
    async def create(request: Request) -> dict:
        return {"body": json.loads(await request.body())}

    app.add_middleware(PortZeroTestFix)
    return TestClient(app)


def test_port_zero_is_dropped_from_tests_of_our_connection_types_only():
    client = echo_app()
    ours = {"connection_id": "office365_default", "conn_type": "office365", "port": 0, "password": "***"}
    answer = client.post("/api/v2/connections/test", json=ours).json()
    assert "port" not in answer["body"] and answer["body"]["connection_id"] == "office365_default"
    assert int(answer["length"]) == len(json.dumps(answer["body"]).encode())
    for kept in ({**ours, "conn_type": "postgres"}, {**ours, "port": 5432}):
        assert client.post("/api/v2/connections/test", json=kept).json()["body"] == kept
    assert client.post("/api/v2/connections", json=ours).json()["body"] == ours  # saving is never touched


def test_airflow_finds_the_middleware_through_the_entry_point():
    from airflow import plugins_manager

    _, middlewares = plugins_manager.get_fastapi_plugins()
    assert any(m.get("middleware") is PortZeroTestFix for m in middlewares)
    assert OhOutlookPlugin.name == "oh_outlook_provider"


def test_bodies_that_are_not_json_objects_pass_unchanged():
    for body in (b"", b"not json", b"[1, 2]", b'{"conn_type": "openhandwerk"}'):
        assert without_port_zero(body) == body
