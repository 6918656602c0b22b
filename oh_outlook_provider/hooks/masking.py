"""Register values with Airflow's secrets masker so no log line, XCom or rendered field shows them."""

from __future__ import annotations

import threading

_registered: set[str] = set()
_lock = threading.Lock()


def mask_secrets(*values: str | None) -> None:
    """Register each value once per process.

    Hooks call this on every settings access and every token; inside a task, each
    `mask_secret` is also a message to the supervisor, so repeats are skipped here.
    """
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - very old task SDK
        return
    for value in values:
        if not value:
            continue
        with _lock:
            if value in _registered:
                continue
            _registered.add(value)
        mask_secret(value)
