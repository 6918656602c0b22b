"""An office365 connection in the environment, as Airflow reads it (for sensor, trigger and runner tests)."""

from __future__ import annotations

import json

SECRET = "s3cret-value"
TENANT = "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"  # a GUID and a client id GUID: the connection's fields are checked
CLIENT = "0a1b2c3d-1111-4222-8333-444455556666"


def set_office365_connection(monkeypatch, valid_until: str | None, conn_id: str = "o365_expiry", tenant: str = TENANT,
                             login: str = CLIENT, password: str = SECRET) -> None:
    extra = {"tenant_id": tenant, **({"credential_valid_until": valid_until} if valid_until else {})}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(
        {"conn_type": "office365", "login": login, "password": password, "extra": extra}))
