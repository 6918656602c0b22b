"""openHandwerk API subset: login (JWT), the response envelope, employees and appointments.

Field names and query parameters are the emulator's own (`oh_fields`), not the client's parser's.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import operator
import time
from typing import Any
from urllib.parse import unquote

import jwt

from devtools.sandbox import jsontext
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


# (signing key, Authorization header) -> the token's expiry (seconds since the epoch), its signature checked
_VERIFIED: dict[tuple[str, str], int] = {}


def _authorised(state: SandboxState, authorization: str) -> bool:
    """Is the header a Bearer token of this tenant's openHandwerk, not expired? The signature is checked once per
    token (a sync sends the same token with every page: checking it again was a twelfth of a page); the expiry on
    every request, as PyJWT checks it (expired once the clock reaches `exp`)."""
    if not authorization.lower().startswith("bearer "):
        return False
    key = (state.signing_key, authorization)
    exp = _VERIFIED.get(key)
    if exp is not None:
        return exp > time.time()
    try:
        claims = jwt.decode(authorization[7:], state.signing_key + "-oh", algorithms=["HS256"])
    except jwt.PyJWTError:
        return False
    if type(claims.get("exp")) is int:  # every token `login` makes; any other is checked each time
        if len(_VERIFIED) >= 4096:
            _VERIFIED.clear()
        _VERIFIED[key] = claims["exp"]
    return True


def _page(items: list, query: dict) -> tuple[int, dict]:
    """One page of `items` in its envelope: (HTTP status, envelope). The records are the sandbox's own: the
    caller encodes them before it lets go of the lock (`respond`)."""
    try:
        page = int(query.get(f.PAGE, 1))
        limit = int(query.get(f.LIMIT, 100))
    except ValueError:
        return envelope(400, "page und limit müssen Zahlen sein.")
    if page < 1 or not 1 <= limit <= 500:
        return envelope(400, "page >= 1 und 1 <= limit <= 500.")
    return envelope(200, items[(page - 1) * limit : page * limit])


def _page_end(query: dict) -> int | None:
    """How many records a valid page asks for up to its end (page x limit); None when `_page` refuses it."""
    try:
        page, limit = int(query.get(f.PAGE, 1)), int(query.get(f.LIMIT, 100))
    except ValueError:
        return None
    return page * limit if page >= 1 and 1 <= limit <= 500 else None


def _text_of(answer: Any) -> bytes:
    """The JSON bytes of an answer, as Starlette's JSONResponse wrote them (UTF-8, compact, no NaN), by the
    standard library."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def encode(answer: Any) -> bytes:
    """`_text_of(answer)`, written by msgspec where it writes the same bytes (jsontext.encode): a page of 500
    records took 2.2 ms with the standard library, 0.25 ms with msgspec (issue 25)."""
    return jsontext.encode(answer, _text_of)


_START_OF = operator.itemgetter(f.START)


def _window(state: SandboxState, lower: dt.datetime, upper: dt.datetime, through: int | None = None) -> list[dict]:
    """The records starting in [lower, upper) (a record without a readable start in every window), in the
    store's order; only the first `through` of them are sure to be current (None: all), the rest may be
    those of an earlier read. Every page of a window read asks again; the answer is remembered with the
    records and their starts it came from, and given again while those before the page's end are the same
    (compared in C, not parsed again: the parse of 20,000 starts per page was most of the emulator's CPU
    in a rerun, issue 25). A record after the page's last one cannot change the page, so a page is checked
    only that far: on average half of the records (checking all for every page of 200 was a fifth of the
    emulator's samples in a rerun of 200 x 100)."""
    cache = state.oh_windows
    known = cache.get((lower, upper))
    if known is not None:
        old_records, old_starts, chosen, positions = known
        if through is not None and 0 < through < len(chosen):
            # A full page with records in the window after it: the records up to the last it shows decide it,
            # and only they are listed (a list of every record per page was a fifth of the check).
            need = positions[through - 1] + 1
            records = list(itertools.islice(state.appointments.values(), need))
            same = len(records) == need and old_records[:need] == records
        else:
            records = list(state.appointments.values())
            need = len(records)
            same = old_records == records
        if same and old_starts[:need] == _starts(records):
            return chosen
    records = list(state.appointments.values())
    starts = _starts(records)
    chosen, positions = [], []
    for index, (record, raw) in enumerate(zip(records, starts, strict=True)):
        start = _parsed_start(str(raw)) if raw else None
        if start is None or lower <= start.replace(tzinfo=None) < upper:
            chosen.append(record)
            positions.append(index)
    if len(cache) >= 8:
        cache.clear()
    cache[(lower, upper)] = (records, starts, chosen, positions)
    return chosen


def _starts(records: list[dict]) -> list:
    """Each record's start as stored (None without one)."""
    try:
        return list(map(_START_OF, records))  # in C: a quarter of `record.get` per record
    except KeyError:  # a record without the start spelling the emulator reads
        return [record.get(f.START) for record in records]


@functools.lru_cache(maxsize=65536)
def _parsed_start(text: str) -> dt.datetime | None:
    """Parsed once per spelling: every page of a window read filters all records again."""
    try:
        return dt.datetime.fromisoformat(text if "T" in text else text + "T00:00:00")
    except ValueError:
        return None


def handle(state: SandboxState, method: str, path: str, query: dict, headers: dict, body: Any) -> tuple[int, dict]:
    """One openHandwerk request (path below the API root) -> (HTTP status, envelope); never raises for bad input."""
    status, raw = respond(state, method, path, query, headers, body)
    return status, json.loads(raw)


def respond(state: SandboxState, method: str, path: str, query: dict, headers: dict, body: Any) -> tuple[int, bytes]:
    """`handle`'s answer as the JSON bytes sent: records are encoded under the lock, so the answer is the
    store as it was, without a copy of every record first."""
    with state.lock:
        state.counters.oh_requests += 1
    path = "/" + path.strip("/")
    if path == "/auth/login" and method == "POST":
        status, answer = login(state, body)
        return status, encode(answer)
    if not _authorised(state, headers.get("authorization", "")):
        return 401, encode(envelope(401, "Nicht angemeldet oder Token abgelaufen.")[1])
    with state.lock:
        status, answer = _answer(state, method, path, query)
        return status, encode(answer)


def _answer(state: SandboxState, method: str, path: str, query: dict) -> tuple[int, dict]:
    """An authorised request's (status, envelope), the records in it the store's own (encode before unlocking)."""
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
        return _page(_window(state, lower, upper, _page_end(query)), query)
    if path.startswith("/appointments/") and method == "GET":
        record = state.appointments.get(unquote(path.split("/", 2)[2]))
        if record is None:
            return envelope(404, "Termin nicht gefunden.")
        return envelope(200, record)
    return envelope(404, f"Unbekannter Pfad {path}.")
