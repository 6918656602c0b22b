"""Our marks on Outlook events: single-value extended properties.

Outlook is the sync state (no local database): every event we write carries the source,
a key (source + appointment + employee) and a fingerprint of what we wrote. Only events
with our source tag are ever read into a plan, changed or deleted.
"""

from __future__ import annotations

import re
import uuid
from typing import NamedTuple

PROPERTY_SET = "{8c6b1f0e-3a52-4d1e-9f6a-6f68b2a7c0d4}"
SOURCE_PROP = f"String {PROPERTY_SET} Name ohSource"
KEY_PROP = f"String {PROPERTY_SET} Name ohKey"
FINGERPRINT_PROP = f"String {PROPERTY_SET} Name ohFingerprint"
TXN_NAMESPACE = uuid.UUID("0b6f4f3e-58c4-4d8e-a1c7-2f1d3e5b9a10")


def source_id(id_kn: str) -> str:
    """Tag value of one openHandwerk account: a second account in the tenant never collides."""
    return f"openhandwerk:{id_kn}"


class EventKey(NamedTuple):
    """Which event this is: one per appointment and employee (a tuple: hashed in C, it keys every plan)."""

    source: str
    appointment_id: str
    employee_id: str

    def __str__(self) -> str:
        return "|".join(map(_escape, self))

    @classmethod
    def parse(cls, text: str) -> EventKey | None:
        parts = (text or "").split("|")
        if len(parts) != 3 or not all(parts):
            return None
        if "%" not in text:  # nearly every key: nothing to unescape
            return tuple.__new__(cls, parts)
        return cls(*map(_unescape, parts))


# openHandwerk may put any printable character in an id, "|" included: "%" and "|" are escaped
# so every id round-trips. Keys written before (ids without either) read back unchanged.
_UNESCAPE = re.compile("%(25|7C)", re.IGNORECASE)


def _escape(part: str) -> str:
    if "%" not in part and "|" not in part:
        return part  # nearly every id: nothing to escape
    return part.replace("%", "%25").replace("|", "%7C")


def _unescape(part: str) -> str:
    if "%" not in part:
        return part
    return _UNESCAPE.sub(lambda m: "%" if m.group(1) == "25" else "|", part)


def holds_prop(source: str) -> str:
    """Tag on a calendar that holds (or held) events of this source: after a `calendar_name` change
    the sync finds the old calendar by it, without looking into every calendar on every run."""
    return f"String {PROPERTY_SET} Name ohHolds:{source}"


HOLDS, HELD = "yes", "no"  # a calendar emptied of our events keeps the tag, set to HELD


def transaction_id(key: EventKey, salt: str) -> str:
    """Deterministic per key and run: an Airflow retry of the same run re-sends the same id, so
    Graph can drop the duplicate POST; a later run (which reads the calendar first) uses a new one."""
    return str(uuid.uuid5(TXN_NAMESPACE, f"{key}|{salt}"))


def odata_quote(value: str) -> str:
    return value.replace("'", "''")


def tag_filter(prop_id: str, value: str) -> str:
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{odata_quote(prop_id)}' and ep/value eq '{odata_quote(value)}')"


def expand_tags(props: tuple[str, ...] = (SOURCE_PROP, KEY_PROP, FINGERPRINT_PROP)) -> str:
    ids = " or ".join(f"id eq '{odata_quote(p)}'" for p in props)
    return f"singleValueExtendedProperties($filter={ids})"
