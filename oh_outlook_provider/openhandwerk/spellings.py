"""Which of the spellings openHandwerk may use a record holds, worked out once per shape of record.

The parser (api.py) accepts several spellings of each field (APPOINTMENT_TITLE: "title", "titel",
"subject", ...) and takes the first one with a value (`api.first`). Asking a record for all of them,
field by field, is a good part of the cost of reading 100,000 appointments; the records of one answer share
their keys, so the spellings each key order holds are remembered and asked alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHAPES_REMEMBERED = 256  # key orders of records (one API sends one or two; a fuzz test sends thousands)


class _Held(dict):
    """Spellings -> those of them a record with these keys holds, in order; worked out on first ask."""

    def __init__(self, keys: frozenset) -> None:
        super().__init__()
        self._keys = keys

    def __missing__(self, names: tuple[str, ...]) -> tuple[str, ...]:
        held = self[names] = tuple(name for name in names if name in self._keys)
        return held


class _Every(dict):
    """Spellings -> all of them: for a Mapping that is no dict, whose `get` may answer for keys it does not list."""

    def __missing__(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return names


_SHAPES: dict[tuple, _Held] = {}
_EVERY = _Every()


def spellings(record: Mapping[str, Any]) -> Mapping[tuple[str, ...], tuple[str, ...]]:
    """For a tuple of spellings (APPOINTMENT_TITLE, ...), those `record` holds, in order.

    `first(record, spellings(record)[names])` is `first(record, names)`: a name the record lacks gives
    None there, which `first` skips. It asks the record once instead of five times; the records of one
    answer share their keys, so the answer is remembered per key order (a dict's keys, as JSON gives them).
    """
    if type(record) is not dict:
        return _EVERY
    keys = tuple(record)
    held = _SHAPES.get(keys)
    if held is None:
        if len(_SHAPES) >= SHAPES_REMEMBERED:
            _SHAPES.clear()
        held = _SHAPES[keys] = _Held(frozenset(keys))
    return held
