"""Which events should exist: appointments in a window x mapped attendees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.render import DesiredEvent, RenderOptions, render_each
from oh_outlook_provider.sync.selection import EVERYTHING, Selection


@dataclass
class DesiredState:
    by_mailbox: dict[str, list[DesiredEvent]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    appointments: int = 0
    cancelled: int = 0
    excluded: int = 0  # left out by the selection (include/exclude by category and status)
    without_mapped_attendee: int = 0
    outside_window: int = 0


def events_for(
    appointment: Appointment,
    mapping: Mapping[str, str],
    source: str,
    options: RenderOptions,
    start_utc: dt.datetime | None = None,
    selection: Selection = EVERYTHING,
) -> list[tuple[str, DesiredEvent]]:
    """(mailbox, event) for every mapped attendee of an appointment that goes to Outlook (neither
    cancelled nor left out by the selection); raises ValueError to reject."""
    if selection.reason(appointment) is not None:
        return []
    return _events(appointment, mapping, source, options, start_utc)


def _events(appointment: Appointment, mapping: Mapping[str, str], source: str, options: RenderOptions,
            start_utc: dt.datetime | None) -> list[tuple[str, DesiredEvent]]:
    mapped = [emp_id for emp_id in appointment.employee_ids if emp_id in mapping]
    if not mapped:
        return []
    return [(mapping[emp_id], event) for emp_id, event in
            zip(mapped, render_each(appointment, mapped, source, options, start_utc), strict=True)]


def desired_state(
    records: Iterable[Appointment | Rejected],
    mapping: Mapping[str, str],
    window: Window,
    source: str,
    options: RenderOptions,
    selection: Selection = EVERYTHING,
) -> DesiredState:
    """`mapping` is employee id -> mailbox (user id). Rejected records are carried, never raised."""
    state = DesiredState()
    seen: set[str] = set()
    for record in records:
        if isinstance(record, Rejected):
            state.rejected.append(record)
            continue
        if record.id in seen:
            continue
        seen.add(record.id)
        start_utc = record.start_utc()
        if not window.contains(start_utc):
            state.outside_window += 1
            continue
        if record.dropped:
            state.rejected.extend(record.dropped_parts())  # the valid rest of the record is synced below
        state.appointments += 1
        if record.cancelled:
            state.cancelled += 1
            continue
        if selection.reason(record) is not None:
            state.excluded += 1
            continue
        try:
            pairs = _events(record, mapping, source, options, start_utc)  # the selection is asked above
        except ValueError as exc:
            state.rejected.append(Rejected(record.id, str(exc)))
            continue
        if not pairs:
            state.without_mapped_attendee += 1
        for mailbox, event in pairs:
            state.by_mailbox.setdefault(mailbox, []).append(event)
    return state
