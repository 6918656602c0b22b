"""Graph's answers as the emulator's handlers return them: (status, headers, body), Graph's error shape (and
`GraphFault`, an error answer raised from deep inside a handler), and the request ids stamped on every answer
(fidelity row E1).

Kept apart from the routing (`graph.py`) so that throttling (`throttling.py`) and `$batch` (`batch.py`) answer
in the same shapes without importing it.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

Result = tuple[int, dict, Any]  # (HTTP status, headers, body: a JSON value with RawJSON texts in it, or None)


class GraphFault(Exception):
    """A Graph error answer raised from deep inside a handler."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error(status: int, code: str, message: str, headers: dict | None = None) -> Result:
    """Graph's error shape; request ids are stamped in by `stamp` (fidelity row E1)."""
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")}}}
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def ok(status: int, body: Any = None, headers: dict | None = None) -> Result:
    return status, {"Content-Type": "application/json", **(headers or {})}, body


_IDS = random.Random()
_RANDOM_BITS = _IDS.getrandbits


def _guid() -> str:
    """A random version-4 GUID as Graph's request ids are, without a system call per id (uuid4 reads
    os.urandom: twice per sub-request it was a visible share of the emulator's CPU): 16 random bytes in hex,
    the version digit 4, the variant digit's top bits 10, as uuid.UUID(version=4) sets them."""
    h = _RANDOM_BITS(128).to_bytes(16, "little").hex()  # randbytes(16)'s bytes, without its Python-level call
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}  # a hex digit with its top two bits 10


def stamp(result: Result, request_headers: dict) -> Result:
    """`request-id` / `client-request-id` on every answer and in every error's innerError (row E1)."""
    status, headers, body = result
    request_id = _guid()
    client_id = request_headers.get("client-request-id") or _guid()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"].setdefault("innerError", {}).update({"request-id": request_id, "client-request-id": client_id})
    return status, {**headers, "request-id": request_id, "client-request-id": client_id}, body
