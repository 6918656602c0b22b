"""Which appointments go to Outlook at all: include / exclude by category (Terminart) and status.

An appointment the selection leaves out is treated like a cancelled one: no event is written, and
an event synced before is deleted on the next run (under the mass-delete guards, so narrowing the
selection by mistake cannot empty the calendars). Cancelled appointments never go, whatever the
selection says. Names match without regard to case and surrounding blanks, as categories do in
event_kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from oh_outlook_provider.sync.event_kinds import match_key
from oh_outlook_provider.sync.models import Appointment


def names(values: Iterable[str] | None) -> frozenset[str] | None:
    """Casefolded names; None stays None (no include list: everything)."""
    return None if values is None else frozenset(match_key(v) for v in values if match_key(v))


@dataclass(frozen=True)
class Selection:
    """`include_*` None: every category / status; an empty include list takes nothing."""

    include_categories: frozenset[str] | None = None
    exclude_categories: frozenset[str] = frozenset()
    include_statuses: frozenset[str] | None = None
    exclude_statuses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, include_categories: Iterable[str] | None = None, exclude_categories: Iterable[str] | None = None,
           include_statuses: Iterable[str] | None = None, exclude_statuses: Iterable[str] | None = None) -> Selection:
        return cls(names(include_categories), names(exclude_categories) or frozenset(),
                   names(include_statuses), names(exclude_statuses) or frozenset())

    def reason(self, appointment: Appointment) -> str | None:
        """Why the appointment stays out of Outlook, or None when it goes."""
        if appointment.cancelled:
            return "cancelled"
        category, status = match_key(appointment.category), match_key(appointment.status)
        if self.include_categories is not None and category not in self.include_categories:
            return f"category '{appointment.category}' is not included"
        if category in self.exclude_categories:
            return f"category '{appointment.category}' is excluded"
        if self.include_statuses is not None and status not in self.include_statuses:
            return f"status '{appointment.status}' is not included"
        if status in self.exclude_statuses:
            return f"status '{appointment.status}' is excluded"
        return None


EVERYTHING = Selection()
