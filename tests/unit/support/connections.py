"""An office365 connection in the environment, as Airflow reads it (for sensor, trigger and runner tests)."""

from __future__ import annotations

import json

SECRET = "s3cret-value"


def set_office365_connection(monkeypatch, valid_until: str | None, conn_id: str = "o365_expiry", tenant: str = "t",
                             login: str = "app", password: str = SECRET) -> None:
    extra = {"tenant_id": tenant, **({"credential_valid_until": valid_until} if valid_until else {})}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(
        {"conn_type": "office365", "login": login, "password": password, "extra": extra}))
