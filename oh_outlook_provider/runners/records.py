"""openHandwerk as the sync needs it: the window's appointments, and single records for events outside it.

An event of ours whose appointment is not in the window's list was either moved out of the
window (keep it current) or is gone (delete it). Only the single-record path can tell, so it
must be proven first: a wrong path answers 404 for everything, and "openHandwerk does not know
it" would then delete every such event.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.sync.models import Appointment, Rejected


class AppointmentSource(Protocol):
    """What the sync needs from openHandwerk; `hooks/openhandwerk.OpenHandwerkHook` is the real one.

    `iter_appointments` streams the records whose start lies in [start, end) (aware datetimes), a
    failed read raises; `get_appointment` answers one record, None when openHandwerk does not know it.
    """

    openhandwerk_conn_id: str

    def iter_appointments(self, start: dt.datetime, end: dt.datetime) -> Iterable[Appointment | Rejected]: ...

    def get_appointment(self, appointment_id: str) -> Appointment | Rejected | None: ...


class AppointmentLookup:
    """Single appointments by id, each asked once per run, thread-safe (mailboxes run in parallel)."""

    def __init__(self, openhandwerk: AppointmentSource):
        self.openhandwerk = openhandwerk
        self._found: dict[str, Appointment | Rejected | None] = {}
        self._lock = threading.Lock()
        self._known_id: str | None = None  # an appointment the list returned: proves the single-record path
        self._path_ok: bool | None = None

    def noting(self, records: Iterable[Appointment | Rejected]) -> Iterator[Appointment | Rejected]:
        """The records as they stream by; the first appointment's id is kept to prove the path with."""
        for record in records:
            if self._known_id is None and isinstance(record, Appointment):
                self._known_id = record.id
            yield record

    def get(self, appointment_id: str) -> Appointment | Rejected | None:
        """The appointment, a Rejected record, or None (unknown to openHandwerk).

        Raises OpenHandwerkError when the single-record path does not answer for an appointment
        the list returned, so that no event is deleted for lack of an answer.
        """
        self._check_path()
        with self._lock:
            if appointment_id in self._found:
                return self._found[appointment_id]
        found = self.openhandwerk.get_appointment(appointment_id)
        with self._lock:
            self._found[appointment_id] = found
        return found

    def _check_path(self) -> None:
        with self._lock:
            if self._path_ok is None:
                known = self._known_id
                answer = self.openhandwerk.get_appointment(known) if known is not None else None
                self._path_ok = known is None or isinstance(answer, Appointment) and answer.id == known
                if known is not None and isinstance(answer, Appointment | Rejected):
                    self._found[known] = answer
            if not self._path_ok:
                raise OpenHandwerkError(
                    f"openHandwerk's single-appointment path does not answer for appointment {self._known_id!r}, "
                    "which the appointment list returned; so no event is deleted for lack of an answer. Check "
                    f"the 'appointment' path of connection '{self.openhandwerk.openhandwerk_conn_id}'."
                )
