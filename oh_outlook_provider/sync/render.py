"""Appointment + employee -> the event we want in that employee's calendar. Never attendees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.models import Appointment, as_utc
from oh_outlook_provider.sync.tags import (
    FINGERPRINT_PROP,
    KEY_PROP,
    SOURCE_PROP,
    EventKey,
    transaction_id,
)
from oh_outlook_provider.timezones import graph_timezone

FOOTER = "Synchronisiert aus openHandwerk. Änderungen bitte in openHandwerk vornehmen; hier werden sie überschrieben."
MAX_SUBJECT = 255


@dataclass(frozen=True)
class RenderOptions:
    """How appointments look in Outlook; all optional."""

    web_url: str | None = None  # openHandwerk web app; events link back to the appointment
    category_map: Mapping[str, str] = field(default_factory=dict)  # openHandwerk category -> Outlook category
    reminder_minutes: int | None = 15  # None = no reminder
    show_as: str = "busy"
    sensitivity: str = "normal"


@dataclass(frozen=True)
class DesiredEvent:
    key: EventKey
    fields: dict[str, Any]  # Graph JSON of every managed field
    hashes: dict[str, str]
    start_utc: dt.datetime

    def tags(self, stored: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        return [
            {"id": SOURCE_PROP, "value": self.key.source},
            {"id": KEY_PROP, "value": str(self.key)},
            {"id": FINGERPRINT_PROP, "value": fingerprint.encode(stored or self.hashes)},
        ]

    def create_body(self, salt: str) -> dict[str, Any]:
        return {**self.fields, "singleValueExtendedProperties": self.tags(),
                "transactionId": transaction_id(self.key, salt)}


def _moment(value: dt.datetime | dt.date, zone: str) -> dict[str, str]:
    if isinstance(value, dt.datetime):
        local = value if value.tzinfo is None else value.astimezone(ZoneInfo(zone))
        local = local.replace(tzinfo=None)
        return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": graph_timezone(zone)}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": graph_timezone(zone)}


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
    if options.web_url:
        lines.append(f"In openHandwerk öffnen: {options.web_url}/termine/{appointment.id}")
    lines.append(f"— {FOOTER} (Termin {appointment.id})")
    return "\n\n".join(lines)


def render(appointment: Appointment, employee_id: str, source: str, options: RenderOptions) -> DesiredEvent:
    """The desired event; raises ValueError with a reason when the appointment cannot be shown."""
    if appointment.all_day and (isinstance(appointment.start, dt.datetime) or isinstance(appointment.end, dt.datetime)):
        raise ValueError("all-day appointment with times of day")
    category = options.category_map.get(appointment.category) if appointment.category else None
    fields: dict[str, Any] = {
        "subject": appointment.title.strip()[:MAX_SUBJECT],
        "body": {"contentType": "text", "content": body_text(appointment, options)},
        "start": _moment(appointment.start, appointment.timezone),
        "end": _moment(appointment.end, appointment.timezone),
        "isAllDay": appointment.all_day,
        "location": {"displayName": appointment.location},
        "categories": [category] if category else [],
        "showAs": "oof" if appointment.category.casefold() == "urlaub" else options.show_as,
        "isReminderOn": options.reminder_minutes is not None and not appointment.all_day,
        "reminderMinutesBeforeStart": options.reminder_minutes or 0,
        "sensitivity": options.sensitivity,
    }
    return DesiredEvent(
        key=EventKey(source, appointment.id, employee_id),
        fields=fields,
        hashes=fingerprint.hashes(fields),
        start_utc=as_utc(appointment.start, appointment.timezone),
    )
