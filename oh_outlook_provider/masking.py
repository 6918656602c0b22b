"""Register values with Airflow's secrets masker so no log line, XCom or rendered field shows them."""

from __future__ import annotations


def mask_secrets(*values: str | None) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - very old task SDK
        return
    for value in values:
        if value:
            mask_secret(value)
