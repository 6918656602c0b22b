"""Appointments as JSON-able records, so that one openHandwerk read can feed every shard of a run.

An aware datetime is written as its UTC instant and restored in the appointment's own zone:
the instant is what the sync compares, and `astimezone` gives back the very wall time and fold
the parser produced (a repeated autumn hour stays the first or second one). Dates stay dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from oh_outlook_provider.sync.models import Appointment, PostalAddress, Rejected, Window

FORMAT = "oh-outlook-appointments/1"


def _moment(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _restore(text: str, zone: str) -> dt.datetime | dt.date:
    if "T" not in text:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text).astimezone(ZoneInfo(zone))


def appointment_record(appointment: Appointment) -> dict[str, Any]:
    a = appointment
    return {
        "id": a.id, "title": a.title, "start": _moment(a.start), "end": _moment(a.end), "timezone": a.timezone,
        "all_day": a.all_day, "description": a.description, "location": a.location, "customer": a.customer,
        "project_number": a.project_number, "category": a.category, "employee_ids": list(a.employee_ids),
        "cancelled": a.cancelled, "status": a.status,
        "address": None if a.address is None else dataclasses.asdict(a.address),
    }


def appointment_from(record: dict[str, Any]) -> Appointment:
    zone = record["timezone"]
    return Appointment(
        id=record["id"], title=record["title"], start=_restore(record["start"], zone),
        end=_restore(record["end"], zone), timezone=zone, all_day=record["all_day"],
        description=record["description"], location=record["location"], customer=record["customer"],
        project_number=record["project_number"], category=record["category"],
        employee_ids=tuple(record["employee_ids"]), cancelled=record["cancelled"], status=record.get("status", ""),
        address=PostalAddress(**record["address"]) if record.get("address") else None,
    )


def rejected_record(rejected: Rejected) -> dict[str, Any]:
    return {"record_id": rejected.record_id, "reason": rejected.reason, "mailbox": rejected.mailbox}


def window_record(window: Window) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def window_from(record: dict[str, str]) -> Window:
    return Window(dt.datetime.fromisoformat(record["start"]), dt.datetime.fromisoformat(record["end"]))
