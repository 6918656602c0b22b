"""The provider's Airflow plugin for the connection form of 3.3.2: Test of stored connections, every field kept."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from oh_outlook_provider import version_compat
from oh_outlook_provider.plugins import ConnectionFormFix, OhOutlookPlugin, without_port_zero


def echo_app() -> TestClient:
    """Stands in for Airflow's route: answers with the body and Content-Length it received."""
    app = FastAPI()

    @app.post("/api/v2/connections/test")
    async def test(request: Request) -> dict:
        return {"body": json.loads(await request.body()), "length": request.headers.get("content-length")}

    @app.post("/api/v2/connections")
    async def create(request: Request) -> dict:
        return {"body": json.loads(await request.body())}

    @app.patch("/api/v2/connections/{conn_id}")
    async def edit(conn_id: str, request: Request) -> dict:
        return {"body": json.loads(await request.body())}

    app.add_middleware(ConnectionFormFix)
    return TestClient(app)


def test_port_zero_is_dropped_from_tests_of_our_connection_types_only(monkeypatch):
    monkeypatch.setattr(version_compat, "CONNECTION_TEST_REFUSES_PORT_ZERO", True)  # Airflow 3.3.1 and 3.3.2
    client = echo_app()
    ours = {"connection_id": "office365_default", "conn_type": "office365", "port": 0, "password": "***"}
    answer = client.post("/api/v2/connections/test", json=ours).json()
    assert "port" not in answer["body"] and answer["body"]["connection_id"] == "office365_default"
    assert int(answer["length"]) == len(json.dumps(answer["body"]).encode())
    for kept in ({**ours, "conn_type": "postgres"}, {**ours, "port": 5432}):
        assert client.post("/api/v2/connections/test", json=kept).json()["body"] == kept
    assert client.post("/api/v2/connections", json={**ours, "conn_type": "http"}).json()["body"]["port"] == 0


def test_a_test_request_passes_untouched_on_the_lines_without_the_port_check(monkeypatch):
    """3.0 tests the values as sent, 3.1 and 3.2 fill in the stored ones, 3.4 treats 0 as blank: nothing to fix."""
    monkeypatch.setattr(version_compat, "CONNECTION_TEST_REFUSES_PORT_ZERO", False)
    ours = {"connection_id": "office365_default", "conn_type": "office365", "port": 0, "password": "***"}
    assert echo_app().post("/api/v2/connections/test", json=ours).json()["body"] == ours


def test_connections_of_our_types_are_saved_with_every_form_field():
    """Issue 13 item 2: the edit form shows only the extra keys a connection has."""
    from oh_outlook_provider.get_provider_info import get_provider_info

    client = echo_app()
    form = {"connection_id": "o365", "conn_type": "office365", "extra": json.dumps({"tenant_id": "t"})}
    for method, path in (("post", "/api/v2/connections"), ("patch", "/api/v2/connections/o365")):
        extra = json.loads(getattr(client, method)(path, json=form).json()["body"]["extra"])
        fields = get_provider_info()["connection-types"][0]["conn-fields"]
        assert set(extra) == set(fields) and extra["tenant_id"] == "t"
        assert extra["certificate_private_key"] == "" and extra["national_cloud"] == "global"
    other = {"connection_id": "h", "conn_type": "http", "extra": "{}"}
    assert client.post("/api/v2/connections", json=other).json()["body"] == other
    password_only = {"connection_id": "o365", "conn_type": "office365", "password": "new"}
    assert client.patch("/api/v2/connections/o365", json=password_only).json()["body"] == password_only


def test_airflow_finds_the_middleware_through_the_entry_point():
    from tests.airflow_lines import fastapi_root_middlewares

    middlewares = fastapi_root_middlewares()
    assert any(m.get("middleware") is ConnectionFormFix for m in middlewares)
    assert OhOutlookPlugin.name == "oh_outlook_provider"


def test_bodies_that_are_not_json_objects_pass_unchanged():
    for body in (b"", b"not json", b"[1, 2]", b'{"conn_type": "openhandwerk"}'):
        assert without_port_zero(body) == body
