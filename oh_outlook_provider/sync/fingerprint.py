"""Normalised event fields, their per-field hashes and whole-event digests.

Graph changes some fields on the way back (bodies become HTML, times come back in another
zone and with fractions of a second), so each managed field is normalised to a canonical
text first; the body, which cannot be compared after a round trip, is only compared on our
side. An unchanged event is recognised by two digests (all fields as we wrote them, and the
comparable ones); per-field hashes are only worked out when a digest differs, which keeps a
100,000-appointment run cheap. Beside them we store the source digest of the event (what its
rendering read: render.source_digest), so a rerun recognises an unchanged appointment without
rendering it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from oh_outlook_provider.graph.timezones import iana_of
from oh_outlook_provider.sync import canonical

MANAGED = ("subject", "body", "start", "end", "isAllDay", "location", "categories", "showAs",
           "isReminderOn", "reminderMinutesBeforeStart", "sensitivity")
COMPARABLE = tuple(f for f in MANAGED if f != "body")  # what we can read back faithfully
TIME_FIELDS = frozenset({"start", "end", "isAllDay"})
ALL, CMP = "_all", "_cmp"  # keys of the two digests in the stored fingerprint
SRC = "_src"  # key of the source digest (render.source_digest); absent on events written before it


_ZONES: dict[str, ZoneInfo] = {}


def zone(name: str) -> ZoneInfo:
    found = _ZONES.get(name)
    if found is None:
        found = _ZONES[name] = ZoneInfo(iana_of(name))
    return found


def utc_text(local: dt.datetime, zone_name: str) -> str:
    """A wall-clock time in a zone as a UTC instant text (the canonical form of a timed start/end).

    Graph answers in wall time (Prefer: outlook.timezone), and 02:30 on the autumn day reads back
    the same for both of its instants; so the repeated hour is always read as its first occurrence
    (fold 0), on our side and on Graph's, and the two texts stay equal run after run.
    """
    utc = local.replace(tzinfo=zone(zone_name), fold=0).astimezone(dt.UTC)
    return utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


MOMENTS_CACHED = 100_000  # Graph's start and end times repeat across a mailbox's events and across runs


def _moment(value: Any, all_day: bool) -> str:
    if not isinstance(value, dict) or not value.get("dateTime"):
        return ""
    raw, zone_name = value["dateTime"], value.get("timeZone")
    if not isinstance(raw, str) or not isinstance(zone_name, str | None):
        return _moment_text(value, all_day)
    return _moment_of(raw, zone_name, all_day)


@lru_cache(maxsize=MOMENTS_CACHED)
def _moment_of(raw: str, zone_name: str | None, all_day: bool) -> str:
    return _moment_text({"dateTime": raw, "timeZone": zone_name}, all_day)


def _moment_text(value: dict, all_day: bool) -> str:
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        text = text.split(".", 1)[0]
    try:
        local = dt.datetime.fromisoformat(text)
        if all_day:
            return local.date().isoformat()
        return utc_text(local, str(value.get("timeZone") or "UTC"))
    except (ValueError, OverflowError):  # an Outlook edit to year 1: an edit, never a crash
        return text


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: ""}[value]
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_of(name: str, value: Any, all_day: bool) -> str:
    """The canonical text of one field: equal before and after a Graph round trip."""
    if name == "start" or name == "end":
        return _moment(value, all_day)
    if name == "subject":
        return canonical.one_line(value) if isinstance(value, str) else ""
    if name == "location":
        shown = value.get("displayName") if isinstance(value, dict) else None
        return canonical.one_line(shown) if isinstance(shown, str) else ""
    if name == "body":
        return (value or {}).get("content", "") if isinstance(value, dict) else ""
    if name == "isAllDay":
        return "true" if value else "false"
    if name == "categories":
        return categories_text(value if isinstance(value, list) else [])
    return _scalar(value)


CATEGORY_TEXTS_REMEMBERED = 4096  # category lists as Graph returns them (a tenant uses a few dozen)
_CATEGORY_TEXTS: dict[tuple, str] = {}


def categories_text(names: list) -> str:
    """Category names canonical (one line each, a name repeated in another case once), sorted.
    Remembered per list: every event a run reads goes through it, and the lists repeat."""
    try:
        key = tuple(names)
        found = _CATEGORY_TEXTS.get(key)
    except TypeError:  # an unhashable entry (Graph never sends one): worked out, not remembered
        return "\x1f".join(sorted(canonical.category_names(names)))
    if found is None:
        if len(_CATEGORY_TEXTS) >= CATEGORY_TEXTS_REMEMBERED:
            _CATEGORY_TEXTS.clear()
        found = _CATEGORY_TEXTS[key] = "\x1f".join(sorted(canonical.category_names(names)))
    return found


def _legacy_text(name: str, value: Any) -> str:
    """The text 0.3 hashed for subject, location and categories (before the canonical form)."""
    if name == "subject":
        return (value or "").strip() if isinstance(value, str) else ""
    if name == "location":
        shown = value.get("displayName") if isinstance(value, dict) else None
        return (shown or "").strip() if isinstance(shown, str) else ""
    return "\x1f".join(sorted(v for v in value if isinstance(v, str))) if isinstance(value, list) else ""


LEGACY = ("subject", "location", "categories")


def legacy_hashes(fields: Mapping[str, Any], current: tuple[str, ...]) -> dict[str, str]:
    """Per-field hashes as 0.3 worked them out, for the fields whose text then differs from the canonical
    one now (`current`: the COMPARABLE texts); usually empty. A fingerprint stored by 0.3 that matches
    one of them is no Outlook edit: the field is only rewritten in canonical form (README, upgrade)."""
    out: dict[str, str] = {}
    for name in LEGACY:
        text = _legacy_text(name, fields.get(name))
        if text != current[COMPARABLE.index(name)]:
            out[name] = per_field((name,), (text,))[name]
    return out


def texts(fields: Mapping[str, Any], names: tuple[str, ...] = MANAGED) -> tuple[str, ...]:
    all_day = bool(fields.get("isAllDay"))
    return tuple(text_of(name, fields.get(name), all_day) for name in names)


def comparable_texts(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """`texts(fields, COMPARABLE)` written out field by field: every event a run reads goes through it."""
    get = fields.get
    all_day = bool(get("isAllDay"))
    subject, place, categories = get("subject"), get("location"), get("categories")
    shown = place.get("displayName") if isinstance(place, dict) else None
    show_as, sensitivity = get("showAs"), get("sensitivity")
    return (
        canonical.one_line(subject) if isinstance(subject, str) else "",
        _moment(get("start"), all_day),
        _moment(get("end"), all_day),
        "true" if all_day else "false",
        canonical.one_line(shown) if isinstance(shown, str) else "",
        categories_text(categories if isinstance(categories, list) else []),
        show_as if type(show_as) is str else _scalar(show_as),
        _scalar(get("isReminderOn")),
        _scalar(get("reminderMinutesBeforeStart")),
        sensitivity if type(sensitivity) is str else _scalar(sensitivity),
    )


_TEMPLATES: dict[tuple[str, ...], str] = {}


def digest(names: tuple[str, ...], values: Iterable[str]) -> str:
    """8 hex digits of "name=text" per field, joined by RS (0x1e); `values`: one text (str) per name
    (TypeError when their number differs)."""
    template = _TEMPLATES.get(names)
    if template is None:
        template = _TEMPLATES[names] = "\x1e".join(name.replace("%", "%%") + "=%s" for name in names)
    return format(zlib.crc32((template % (values if type(values) is tuple else tuple(values))).encode()), "08x")


def per_field(names: tuple[str, ...], values: tuple[str, ...]) -> dict[str, str]:
    """8 hex digits per field: enough to notice an edit (a 1 in 4 billion miss)."""
    return {n: format(zlib.crc32(f"{n}={t}".encode()), "08x") for n, t in zip(names, values, strict=True)}


def field_hash(name: str, value: Any, all_day: bool) -> str:
    return per_field((name,), (text_of(name, value, all_day),))[name]


def hashes(fields: Mapping[str, Any], names: tuple[str, ...] = MANAGED) -> dict[str, str]:
    return per_field(names, texts(fields, names))


_BODY = MANAGED.index("body")


def comparable_digest(all_texts: tuple[str, ...]) -> str:
    """Digest of the comparable fields, from the texts of all MANAGED fields."""
    return digest(COMPARABLE, all_texts[:_BODY] + all_texts[_BODY + 1:])


def stamp(all_texts: tuple[str, ...], source: str | None = None) -> dict[str, str]:
    """What we store on an event: per-field hashes and both digests, and the source digest of the
    rendering that gave `all_texts` (render.source_digest) when given."""
    stamped = {**per_field(MANAGED, all_texts), ALL: digest(MANAGED, all_texts), CMP: comparable_digest(all_texts)}
    if source is not None:
        stamped[SRC] = source
    return stamped


def encode(stored: Mapping[str, str]) -> str:
    return "v1:" + json.dumps(dict(stored), separators=(",", ":"), sort_keys=True)


# A fingerprint exactly as `encode(stamp(texts, source))` writes it: the three digests first (sorted keys),
# then per-field hashes under names of letters only, so no later key repeats one of the three.
_OURS = re.compile(r'v1:\{"_all":"([0-9a-f]{8})","_cmp":"([0-9a-f]{8})","_src":"([0-9a-f]{16})"'
                   r'(?:,"[A-Za-z]+":"[0-9a-f]{8}")*\}')


def marks(text: str | None) -> tuple[str | None, str | None, str | None]:
    """(ALL, CMP, SRC) of a stored fingerprint: `decode(text).get(...)` of each, read without decoding
    when the text is exactly as we write it (the one JSON `decode` would read these values from);
    any other text is decoded."""
    found = _OURS.fullmatch(text) if text else None
    if found is not None:
        return found.group(1, 2, 3)
    stored = decode(text)
    return stored.get(ALL), stored.get(CMP), stored.get(SRC)


def decode(text: str | None) -> dict[str, str]:
    """Stored hashes, or {} when the tag is missing or unreadable (then every field counts as changed)."""
    if not text or not text.startswith("v1:"):
        return {}
    try:
        value = json.loads(text[3:])
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    if set(map(type, value.values())) <= {str}:  # as we write it (JSON keys are always strings)
        return value
    return {str(k): str(v) for k, v in value.items()}
