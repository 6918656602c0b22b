"""Plain records that flow between the hooks and the pure core."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Employee:
    """An openHandwerk employee (Mitarbeiter)."""

    id: str
    name: str
    email: str | None = None
    active: bool = True


GERMANY = frozenset({"de", "deu", "deutschland", "germany"})  # a country the business need not spell out


@dataclass(frozen=True)
class PostalAddress:
    """Where an appointment takes place, as openHandwerk gives it in parts.

    Written as Graph's `physicalAddress`, so Outlook on a phone offers directions; `street`
    includes the house number (Graph has no field of its own for it).
    """

    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""

    def display(self) -> str:
        """One line as a German reader writes it: "Hauptstraße 5, 50667 Köln" (a foreign country appended)."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        country = "" if self.country.casefold() in GERMANY else self.country
        return ", ".join(p for p in (self.street, place, country) if p)


@dataclass(frozen=True)
class Appointment:
    """An openHandwerk appointment (Termin).

    Timed appointments carry aware datetimes in `timezone`; all-day ones carry dates with an
    exclusive `end` (a one-day appointment on 2 March ends on 3 March).
    """

    id: str
    title: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    timezone: str = "Europe/Berlin"
    all_day: bool = False
    description: str = ""
    location: str = ""  # as shown: the address's one line, or openHandwerk's free text
    address: PostalAddress | None = None  # only when openHandwerk gives the address in parts
    customer: str = ""
    project_number: str = ""
    category: str = ""
    employee_ids: tuple[str, ...] = ()
    cancelled: bool = False
    status: str = ""  # openHandwerk's status as written (geplant, angeboten, ...); filters match it casefolded
    # Parts of the record left out, each with its reason (e.g. a null in the employee list): the rest
    # is synced, and each reason is reported with the record's id (`dropped_parts`).
    dropped: tuple[str, ...] = ()

    def start_utc(self) -> dt.datetime:
        """The start as a UTC instant; all-day appointments start at local midnight."""
        return as_utc(self.start, self.timezone)

    def dropped_parts(self) -> list[Rejected]:
        """One report line per part left out, naming this record (empty for a whole record)."""
        return [Rejected(self.id, reason) for reason in self.dropped]


@dataclass(frozen=True)
class Rejected:
    """A record that could not be used, and why. Never stops the others."""

    record_id: str
    reason: str
    kind: str = "appointment"
    mailbox: str | None = None


@dataclass(frozen=True)
class GraphUser:
    """The parts of a Microsoft 365 user that matter for mapping."""

    id: str
    display_name: str = ""
    user_principal_name: str = ""
    mail: str | None = None
    other_mails: tuple[str, ...] = ()
    proxy_addresses: tuple[str, ...] = ()
    account_enabled: bool = True
    has_exchange: bool = False

    def addresses(self) -> set[str]:
        """Every address the user receives mail at, casefolded, without SMTP: prefixes."""
        found = {self.mail or "", self.user_principal_name, *self.other_mails}
        for proxy in self.proxy_addresses:
            if proxy[:5].casefold() == "smtp:":
                found.add(proxy[5:])
        return {a.strip().casefold() for a in found if a and a.strip()}


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end) of appointment starts, in UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} is not after start {self.start}")

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def as_utc(value: dt.datetime | dt.date, timezone: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))
        return aware.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)
