"""The emulator's JSON: request bodies read and answers written as the standard library did, by msgspec.

Reading and writing JSON with the standard library was a sixth of the emulator's CPU in a benchmark's initial
sync and a seventh in a rerun (issue 25); msgspec does either in a fraction of that. Nothing a client can see
changes: whatever msgspec would read or write otherwise than the standard library is left to the standard library.

- `decode(raw)` is `json.loads(raw)`: the same values, the same bodies refused (ValueError). msgspec reads what
  it can; what it refuses (a byte-order mark, UTF-16, a lone surrogate escape, `NaN`, a number past a float's
  range) and bodies that could nest deeper than it reads and the standard library refuses go to `json.loads`.
  Every float read is a `JSONFloat`, so that writing it again gives the text the standard library writes.
- `encode(value, fallback)` is `fallback(value)` (compact UTF-8 JSON, non-ASCII as is, NaN refused): msgspec
  writes str, int, bool, None, dicts with str keys, lists and tuples the same bytes, a `JSONFloat` as `repr`
  and a `RawJSON` as its text; anything else (a non-finite float, an object JSON cannot hold, a lone
  surrogate, a cycle) goes to `fallback`, which gives today's bytes or raises today's error. msgspec would
  write a float the emulator's own code made, a set, bytes or a date otherwise than the standard library (or
  at all): no answer holds one, each value in an answer comes from a JSON body or is a str, int, bool or None.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import msgspec

# msgspec reads JSON nested as deep as the standard library does and a little deeper (997 levels against 994,
# each counted against the recursion limit): a body with fewer brackets than this cannot come near either.
_MSGSPEC_MAX_OPENINGS = 512


class JSONFloat(float):
    """A float read from a request body: written again as `json.dumps` writes it (`float.__repr__`)."""

    __slots__ = ()


class RawJSON:
    """A JSON value encoded already (`text`, str or UTF-8 bytes, as `encode` writes it): put into an answer
    as is, so an event's text is made once and spliced into every answer that shows it."""

    __slots__ = ("raw", "text")

    def __init__(self, text: str | bytes) -> None:
        self.text = text
        self.raw = msgspec.Raw(text)

    def value(self) -> Any:
        """The decoded value: a fresh dict (or list) each call."""
        return json.loads(self.text)


_DECODER = msgspec.json.Decoder(float_hook=JSONFloat)


def decode(raw: bytes) -> Any:
    """`json.loads(raw)` with every float a `JSONFloat`; ValueError (JSONDecodeError, UnicodeDecodeError) for
    a body that is not JSON, RecursionError for one nested too deep, as `json.loads`."""
    if raw.count(b"[") + raw.count(b"{") < _MSGSPEC_MAX_OPENINGS:
        try:
            return _DECODER.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            pass  # the standard library reads it or refuses it with its own error
    return json.loads(raw, parse_float=JSONFloat, parse_constant=JSONFloat)


class _NotMsgspecs(Exception):
    """A value msgspec would write otherwise than the standard library: the fallback decides."""


def _spelled(obj: Any) -> msgspec.Raw:
    """msgspec's hook for what it does not write itself: a RawJSON's text, a finite JSONFloat's repr."""
    if type(obj) is RawJSON:
        return obj.raw
    if type(obj) is JSONFloat and math.isfinite(obj):
        return msgspec.Raw(float.__repr__(obj))
    raise _NotMsgspecs


_ENCODER = msgspec.json.Encoder(enc_hook=_spelled)


def encode(value: Any, fallback: Callable[[Any], bytes]) -> bytes:
    """`fallback(value)`'s bytes, written by msgspec where it writes the same (see the module's docstring);
    `fallback`'s error (TypeError, ValueError) where it raises one."""
    try:
        return _ENCODER.encode(value)
    except Exception:  # noqa: BLE001 - msgspec declined: the standard library answers or raises as it did
        return fallback(value)
