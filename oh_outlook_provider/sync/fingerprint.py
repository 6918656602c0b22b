"""Normalised event fields and their hashes.

Graph changes some fields on the way back (bodies become HTML, times come back in another
zone and with fractions of a second), so each managed field is normalised before hashing
and the body, which cannot be compared after a round trip, is only compared on our side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from oh_outlook_provider.timezones import iana_of

MANAGED = ("subject", "body", "start", "end", "isAllDay", "location", "categories", "showAs",
           "isReminderOn", "reminderMinutesBeforeStart", "sensitivity")
COMPARABLE = tuple(f for f in MANAGED if f != "body")  # what we can read back faithfully
TIME_FIELDS = frozenset({"start", "end", "isAllDay"})


def _moment(value: Any, all_day: bool) -> str:
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        return ""
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        text = text.split(".", 1)[0]
    local = dt.datetime.fromisoformat(text)
    if all_day:
        return local.date().isoformat()
    zone = ZoneInfo(iana_of(str(value.get("timeZone") or "UTC")))
    return local.replace(tzinfo=zone).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise(name: str, value: Any, all_day: bool) -> Any:
    if name in ("start", "end"):
        return _moment(value, all_day)
    if name == "subject":
        return (value or "").strip()
    if name == "location":
        return ((value or {}).get("displayName") or "").strip() if isinstance(value, Mapping) else ""
    if name == "categories":
        return sorted(value or [])
    if name == "body":
        return (value or {}).get("content", "") if isinstance(value, Mapping) else ""
    if name == "isAllDay":
        return bool(value)
    return value


def field_hash(name: str, value: Any, all_day: bool) -> str:
    canonical = json.dumps(normalise(name, value, all_day), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(f"{name}={canonical}".encode()).hexdigest()[:12]


def hashes(fields: Mapping[str, Any], names: tuple[str, ...] = MANAGED) -> dict[str, str]:
    all_day = bool(fields.get("isAllDay"))
    return {name: field_hash(name, fields.get(name), all_day) for name in names}


def encode(stored: Mapping[str, str]) -> str:
    return "v1:" + json.dumps(dict(stored), separators=(",", ":"), sort_keys=True)


def decode(text: str | None) -> dict[str, str]:
    """Stored hashes, or {} when the tag is missing or unreadable (then every field counts as changed)."""
    if not text or not text.startswith("v1:"):
        return {}
    try:
        value = json.loads(text[3:])
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
