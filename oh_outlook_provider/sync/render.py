"""Appointment + employee -> the event we want in that employee's calendar. Never attendees."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from oh_outlook_provider.graph.timezones import graph_timezone
from oh_outlook_provider.sync import canonical, fingerprint
from oh_outlook_provider.sync.categories import outlook_name
from oh_outlook_provider.sync.event_kinds import SENSITIVITY_DEFAULTS, SHOW_AS_DEFAULTS, casefolded, kind_of
from oh_outlook_provider.sync.models import Appointment, PostalAddress, as_utc
from oh_outlook_provider.sync.tags import (
    FINGERPRINT_PROP,
    KEY_PROP,
    SOURCE_PROP,
    EventKey,
    transaction_id,
)

MAP_URL = "https://www.google.com/maps/search/?api=1&query={query}"
FOOTER = "Synchronisiert aus openHandwerk. Änderungen bitte in openHandwerk vornehmen; hier werden sie überschrieben."
UNTITLED = "(ohne Titel)"  # a title with nothing to show
# Every physicalAddress property, empty: a PATCH that may merge complex values (OData 4.01, 11.4.3)
# still clears an address openHandwerk no longer gives (fidelity row E6).
NO_ADDRESS = {"street": "", "postalCode": "", "city": "", "state": "", "countryOrRegion": ""}
# Part of every event's source digest (`source_digest`): bump it whenever the same appointment and
# options render to other texts (a new footer, another canonical form). Then every event renders once
# and the digests decide, as for events written before source digests existed. test_render pins it.
RENDER_VERSION = 1
CATEGORIES_REMEMBERED = 4096  # category names per RenderOptions (a tenant has a few dozen)


@dataclass(frozen=True)
class RenderOptions:
    """How appointments look in Outlook; all optional."""

    web_url: str | None = None  # openHandwerk web app; events link back to the appointment
    # openHandwerk category -> Outlook category name (categories.outlook_name); unnamed ones keep their own
    category_map: Mapping[str, str] = field(default_factory=dict)
    categories: bool = True  # False: events carry no category at all
    reminder_minutes: int | None = 15  # None = no reminder
    show_as: str = "busy"  # for categories the map does not name
    sensitivity: str = "normal"
    # Category (casefolded) -> showAs / sensitivity (event_kinds has the defaults and why).
    show_as_map: Mapping[str, str] = field(default_factory=lambda: casefolded(SHOW_AS_DEFAULTS))
    sensitivity_map: Mapping[str, str] = field(default_factory=lambda: casefolded(SENSITIVITY_DEFAULTS))
    # A route link in the body for appointments with an address; "{query}" is the address, URL-encoded.
    # Google's cross-platform Maps URL opens the maps app on Android and iOS; None leaves it out.
    map_url: str | None = MAP_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "category_map", casefolded(self.category_map))
        if self.map_url:  # checked here: an event's text is rendered only when it is written (issue 25)
            try:
                self.map_url.format(query="x")
            except (KeyError, IndexError, ValueError):
                raise ValueError(f"map_url {self.map_url[:80]!r} may hold only the placeholder {{query}}") from None

    @cached_property
    def digest(self) -> str:
        """16 hex digits of every option and RENDER_VERSION (maps sorted): part of each source digest,
        so a changed option renders every event again. Every field counts, one added later too."""
        values = [RENDER_VERSION]
        for option in dataclasses.fields(self):
            value = getattr(self, option.name)
            values.append((option.name, tuple(sorted(value.items())) if isinstance(value, Mapping) else value))
        return hashlib.blake2b(repr(values).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()

    @cached_property
    def _category_names(self) -> dict[str, tuple[str, ...]]:
        """openHandwerk category -> the Outlook category names an event carries (`categories_of`)."""
        return {}


@dataclass(eq=False)
class DesiredEvent:
    """The event one employee's calendar should hold for one appointment.

    Only the digests are kept; the Graph JSON and the per-field texts are rebuilt on demand
    (for creates, updates and conflicts), so a run over 100,000 unchanged appointments holds
    little more than the appointments themselves.
    """

    key: EventKey
    appointment: Appointment
    options: RenderOptions
    start_utc: dt.datetime
    source_digest: str  # of what rendering reads (`source_digest`); stored beside the digests we write
    rendering: Rendering  # the digests, worked out on first use; shared by the appointment's events
    categories: tuple[str, ...] = ()  # the category names it carries (categories_of)

    @property
    def digest(self) -> str:
        """Of all managed fields."""
        return self.rendering.digests[0]

    @property
    def comparable_digest(self) -> str:
        """Of the fields Graph gives back faithfully."""
        return self.rendering.digests[1]

    @cached_property
    def _rendered(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        return _fields_and_texts(self.appointment, self.options)

    @property
    def fields(self) -> dict[str, Any]:
        """Graph JSON of every managed field."""
        return self._rendered[0]

    @property
    def texts(self) -> tuple[str, ...]:
        """Canonical text per MANAGED field."""
        return self._rendered[1]

    @cached_property
    def hashes(self) -> dict[str, str]:
        return fingerprint.per_field(fingerprint.MANAGED, self.texts)

    def tags(self) -> list[dict[str, str]]:
        return [
            {"id": SOURCE_PROP, "value": self.key.source},
            {"id": KEY_PROP, "value": str(self.key)},
            {"id": FINGERPRINT_PROP, "value": fingerprint.encode(fingerprint.stamp(self.texts, self.source_digest))},
        ]

    def create_body(self, salt: str) -> dict[str, Any]:
        return {**self.fields, "singleValueExtendedProperties": self.tags(),
                "transactionId": transaction_id(self.key, salt)}


class Rendering:
    """The digests of one appointment's texts (`_texts`), worked out on first use and kept: a rerun
    whose source digests match (sync/plan.py) never needs them. Thread-safe: two threads working
    them out at once get equal values."""

    __slots__ = ("appointment", "options", "categories", "_digests")

    def __init__(self, appointment: Appointment, options: RenderOptions, categories: tuple[str, ...]):
        self.appointment, self.options, self.categories = appointment, options, categories
        self._digests: tuple[str, str] | None = None

    @property
    def digests(self) -> tuple[str, str]:
        """(digest of all MANAGED texts, digest of the COMPARABLE ones), as `fingerprint.stamp` stores them."""
        if self._digests is None:
            texts = _texts(self.appointment, self.options, categories=list(self.categories))
            self._digests = (fingerprint.digest(fingerprint.MANAGED, texts), fingerprint.comparable_digest(texts))
        return self._digests


# Appointment fields rendering never reads: they decide which events exist, not what they show.
NOT_RENDERED = frozenset({"employee_ids", "cancelled", "status", "dropped"})


def source_digest(appointment: Appointment, options: RenderOptions) -> str:
    """16 hex digits of everything the rendering of `appointment` reads: every Appointment field but
    NOT_RENDERED, the options and RENDER_VERSION (`RenderOptions.digest`). No employee or mailbox: an
    appointment renders the same in every calendar. Start and end count as ISO texts: date or time, wall
    time and UTC offset (so the instant, and which 02:30 of the autumn night), naive or aware.

    Rendering is a function of these inputs, so equal source digests mean equal renderings, Graph JSON
    and texts (up to a 1 in 2**64 chance): a rerun that finds the digest stored on an unedited event
    counts it unchanged without rendering (sync/plan.py). repr of str, bool and None (no datetime repr)
    is unambiguous and stable; a lone surrogate is escaped by repr.
    """
    a, address = appointment, appointment.address
    values = (options.digest, a.id, a.title, a.start.isoformat(), a.end.isoformat(), a.timezone, a.all_day,
              a.description, a.location,
              None if address is None else (address.street, address.postal_code, address.city, address.country),
              a.customer, a.project_number, a.category)
    return hashlib.blake2b(repr(values).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _moment(value: dt.datetime | dt.date, zone: str) -> dict[str, str]:
    if isinstance(value, dt.datetime):
        value = _to_minute(value)
        local = value if value.tzinfo is None else value.astimezone(ZoneInfo(zone))
        if not _unique_wall_time(local):
            # 02:30 on the autumn day names two instants and a wall time cannot say which (Graph's
            # dateTimeTimeZone has no offset): send the instant in UTC. Outlook shows it in the
            # reader's zone all the same, and reads back as the same wall time (see fingerprint).
            utc = local.astimezone(dt.UTC).replace(tzinfo=None)
            return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}
        return {"dateTime": local.replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": graph_timezone(zone)}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": graph_timezone(zone)}


def _unique_wall_time(local: dt.datetime) -> bool:
    """Whether this wall-clock time names one instant in its zone (not the repeated or skipped hour)."""
    if local.tzinfo is None:
        return True
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() == local.utcoffset()


def _moment_text(value: dt.datetime | dt.date, zone: str, all_day: bool) -> str:
    """fingerprint.text_of for the moment `_moment` builds, without building and parsing it."""
    if all_day or not isinstance(value, dt.datetime):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    # tzinfo and fold in the key: aware times of one instant in two zones compare equal, and so do the two
    # 02:30 of the night the clocks go back (fold 0 and 1) in one zone
    return _timed_text(value, value.tzinfo, value.fold, zone)


@lru_cache(maxsize=fingerprint.MOMENTS_CACHED)
def _timed_text(value: dt.datetime, tzinfo: dt.tzinfo | None, fold: int, zone: str) -> str:
    value = _to_minute(value)
    local = value if value.tzinfo is None else value.astimezone(fingerprint.zone(zone))
    return fingerprint.utc_text(local.replace(tzinfo=None), graph_timezone(zone))


def _to_minute(value: dt.datetime) -> dt.datetime:
    """Times are written to the minute: whether Exchange keeps seconds is not documented (fidelity
    row E9), and a time of whole minutes comes back the same either way (zone and fold are kept)."""
    return value.replace(second=0, microsecond=0) if value.second or value.microsecond else value


def subject(appointment: Appointment) -> str:
    """The subject in canonical form (sync/canonical.py): what Exchange keeps as sent."""
    return canonical.one_line(appointment.title) or UNTITLED


def body_text(appointment: Appointment, options: RenderOptions) -> str:
    lines = [appointment.description.strip()] if appointment.description.strip() else []
    facts = [
        ("Kunde", appointment.customer),
        ("Einsatzort", appointment.location),
        ("Projekt", appointment.project_number),
        ("Terminart", appointment.category),
    ]
    detail = [f"{label}: {value}" for label, value in facts if value]
    if detail:
        lines.append("\n".join(detail))
    if appointment.address is not None and options.map_url:
        lines.append(_route(appointment.address, options.map_url))
    if options.web_url:
        lines.append(f"In openHandwerk öffnen: {options.web_url}/termine/{appointment.id}")
    lines.append(f"— {FOOTER} (Termin {appointment.id})")
    return "\n\n".join(lines)


@lru_cache(maxsize=4096)  # customers' addresses repeat across appointments and employees
def _route(address: PostalAddress, map_url: str) -> str:
    return f"Route: {map_url.format(query=quote_plus(address.display()))}"


def location(appointment: Appointment) -> dict[str, Any]:
    """Graph's `location`: the line as shown and, when openHandwerk gave the parts, a `physicalAddress`
    (Outlook on a phone offers directions to it). Only `displayName` is compared after a round trip
    (fingerprint): how Graph echoes an address is not documented, and the body carries it instead."""
    address = appointment.address
    shown = canonical.one_line(appointment.location)  # one line, as Exchange keeps it (fidelity rows E7, E8)
    if address is None:
        return {"displayName": shown}
    return {"displayName": shown,
            "address": {**NO_ADDRESS, "street": address.street, "postalCode": address.postal_code,
                        "city": address.city, "countryOrRegion": address.country}}


def _show_as(appointment: Appointment, options: RenderOptions) -> str:
    return kind_of(appointment.category, options.show_as_map, options.show_as)


def _sensitivity(appointment: Appointment, options: RenderOptions) -> str:
    return kind_of(appointment.category, options.sensitivity_map, options.sensitivity)


def categories_of(appointment: Appointment, options: RenderOptions) -> list[str]:
    if not options.categories:
        return []
    # canonical before the map and after it: outlook_name's cut counts code points, Exchange UTF-16 units
    name = outlook_name(canonical.one_line(appointment.category), options.category_map)
    return canonical.category_names([name] if name else [])


def category_names(appointment: Appointment, options: RenderOptions) -> tuple[str, ...]:
    """`categories_of`, remembered per openHandwerk category for these options (categories repeat)."""
    remembered = options._category_names
    names = remembered.get(appointment.category)
    if names is None:
        if len(remembered) >= CATEGORIES_REMEMBERED:
            remembered.clear()
        names = remembered[appointment.category] = tuple(categories_of(appointment, options))
    return names


def _fields_and_texts(appointment: Appointment, options: RenderOptions) -> tuple[dict[str, Any], tuple[str, ...]]:
    all_day = appointment.all_day
    categories = categories_of(appointment, options)
    fields: dict[str, Any] = {
        "subject": subject(appointment),
        "body": {"contentType": "text", "content": body_text(appointment, options)},
        "start": _moment(appointment.start, appointment.timezone),
        "end": _moment(appointment.end, appointment.timezone),
        "isAllDay": all_day,
        "location": location(appointment),
        "categories": categories,
        "showAs": _show_as(appointment, options),
        "isReminderOn": options.reminder_minutes is not None and not all_day,
        "reminderMinutesBeforeStart": options.reminder_minutes or 0,
        "sensitivity": _sensitivity(appointment, options),
    }
    return fields, _texts(appointment, options, fields["body"]["content"], categories)


def _texts(appointment: Appointment, options: RenderOptions, body: str | None = None,
           categories: list[str] | None = None) -> tuple[str, ...]:
    """What fingerprint.texts(fields) gives, built straight from the appointment (a test holds them equal):
    the hot path of a run, so no Graph JSON is built for events that turn out unchanged."""
    all_day = appointment.all_day
    if categories is None:
        categories = categories_of(appointment, options)
    return (
        subject(appointment),
        body if body is not None else body_text(appointment, options),
        _moment_text(appointment.start, appointment.timezone, all_day),
        _moment_text(appointment.end, appointment.timezone, all_day),
        "true" if all_day else "false",
        canonical.one_line(appointment.location),
        fingerprint.categories_text(categories),
        _show_as(appointment, options),
        "true" if options.reminder_minutes is not None and not all_day else "false",
        str(options.reminder_minutes or 0),
        _sensitivity(appointment, options),
    )


def render(appointment: Appointment, employee_id: str, source: str, options: RenderOptions,
           start_utc: dt.datetime | None = None) -> DesiredEvent:
    """The desired event; raises ValueError with a reason when the appointment cannot be shown."""
    return render_each(appointment, (employee_id,), source, options, start_utc)[0]


def render_each(appointment: Appointment, employee_ids: Sequence[str], source: str, options: RenderOptions,
                start_utc: dt.datetime | None = None) -> list[DesiredEvent]:
    """The desired event of each employee, in order; the appointment's source digest is worked out once
    for all of them, and its texts' digests on first use, also once (they name no employee). Raises
    ValueError as `render` does, here and not later: what is worked out on first use cannot fail for an
    appointment that passed these checks (options are checked when RenderOptions is made)."""
    if appointment.all_day and (isinstance(appointment.start, dt.datetime) or isinstance(appointment.end, dt.datetime)):
        raise ValueError("all-day appointment with times of day")
    names = category_names(appointment, options)
    rendering = Rendering(appointment, options, names)
    digest = source_digest(appointment, options)
    start_utc = start_utc or as_utc(appointment.start, appointment.timezone)
    return [DesiredEvent(key=EventKey(source, appointment.id, employee_id), appointment=appointment, options=options,
                         start_utc=start_utc, source_digest=digest, rendering=rendering, categories=names)
            for employee_id in employee_ids]
