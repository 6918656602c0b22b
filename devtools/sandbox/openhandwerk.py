"""openHandwerk API subset: login (JWT), the response envelope, employees and appointments.

Field names and query parameters are the emulator's own (`oh_fields`), not the client's parser's.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import time
from typing import Any
from urllib.parse import unquote

import jwt

from devtools.sandbox import oh_fields as f
from devtools.sandbox.state import SandboxState


def envelope(status: int, response: Any) -> tuple[int, dict]:
    """(HTTP status, openHandwerk's envelope around `response`)."""
    return status, {f.ENVELOPE_SUCCESS: 200 <= status < 300, f.ENVELOPE_RESPONSE: response, f.ENVELOPE_STATUS: status}


def login(state: SandboxState, body: Any) -> tuple[int, dict]:
    """POST /auth/login: (200, envelope with a JWT valid `state.token_lifetime` seconds) or (401, envelope)."""
    body = body if isinstance(body, dict) else {}
    given = (str(body.get(f.LOGIN_ID_KN)), body.get(f.LOGIN_EMPLOYEE), body.get(f.LOGIN_PASSWORD))
    if given != (state.oh_id_kn, state.oh_employee, state.oh_password):
        return envelope(401, "Login fehlgeschlagen: Kundennummer, Benutzer oder Passwort falsch.")
    now = int(time.time())
    token = jwt.encode({"sub": state.oh_employee, "idKn": state.oh_id_kn, "iat": now, "exp": now + state.token_lifetime},
                       state.signing_key + "-oh", algorithm="HS256")
    return envelope(200, {f.TOKEN: token, f.EXPIRES_IN: state.token_lifetime})


def _authorised(state: SandboxState, authorization: str) -> bool:
    if not authorization.lower().startswith("bearer "):
        return False
    try:
        jwt.decode(authorization[7:], state.signing_key + "-oh", algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    return True


def _page(items: list, query: dict) -> tuple[int, dict]:
    """One page, copied (the caller's records stay the sandbox's own)."""
    try:
        page = int(query.get(f.PAGE, 1))
        limit = int(query.get(f.LIMIT, 100))
    except ValueError:
        return envelope(400, "page und limit müssen Zahlen sein.")
    if page < 1 or not 1 <= limit <= 500:
        return envelope(400, "page >= 1 und 1 <= limit <= 500.")
    # A copy the JSON encoder can read outside the lock; JSON's own round trip is far cheaper than deepcopy.
    return envelope(200, json.loads(json.dumps(items[(page - 1) * limit : page * limit])))


def _start_key(record: dict) -> dt.datetime | None:
    """The record's start (naive) as the emulator filters on it; None when missing or unreadable."""
    raw = record.get(f.START)
    return _parsed_start(str(raw)) if raw else None


@functools.lru_cache(maxsize=65536)
def _parsed_start(text: str) -> dt.datetime | None:
    """Parsed once per spelling: every page of a window read filters all records again."""
    try:
        return dt.datetime.fromisoformat(text if "T" in text else text + "T00:00:00")
    except ValueError:
        return None


def handle(state: SandboxState, method: str, path: str, query: dict, headers: dict, body: Any) -> tuple[int, dict]:
    """One openHandwerk request (path below the API root) -> (HTTP status, envelope); never raises for bad input."""
    with state.lock:
        state.counters.oh_requests += 1
    path = "/" + path.strip("/")
    if path == "/auth/login" and method == "POST":
        return login(state, body)
    if not _authorised(state, headers.get("authorization", "")):
        return envelope(401, "Nicht angemeldet oder Token abgelaufen.")
    with state.lock:
        if path == "/employees" and method == "GET":
            return _page(list(state.employees.values()), query)
        if path == "/appointments" and method == "GET":
            try:
                lower = dt.datetime.fromisoformat(query[f.RANGE_FROM])
                upper = dt.datetime.fromisoformat(query[f.RANGE_TO])
            except (KeyError, ValueError):
                return envelope(400, "Parameter from und to (ISO-Datum) sind erforderlich.")
            if str(query.get(f.PAGE, "1")) == "1":
                state.counters.oh_window_reads += 1
            chosen = []
            for record in state.appointments.values():
                start = _start_key(record)
                if start is None or lower <= start.replace(tzinfo=None) < upper:
                    chosen.append(record)
            return _page(chosen, query)
        if path.startswith("/appointments/") and method == "GET":
            record = state.appointments.get(unquote(path.split("/", 2)[2]))
            if record is None:
                return envelope(404, "Termin nicht gefunden.")
            return envelope(200, copy.deepcopy(record))
    return envelope(404, f"Unbekannter Pfad {path}.")
