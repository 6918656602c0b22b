"""Seed data: a German craft business, deterministic for a seed, scalable in size.

The first employees are the mapping cases every test and the demo rely on; the rest are
generated Monteure. Records use the emulator's own openHandwerk spellings (`oh_fields`), wall-clock
times in Europe/Berlin.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from devtools.sandbox import oh_fields as f

DOMAIN = "mueller-haustechnik.de"
EXCHANGE_PLAN = {"service": "exchange", "capabilityStatus": "Enabled", "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0"}
TEAMS_PLAN = {"service": "TeamspaceAPI", "capabilityStatus": "Enabled", "servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929"}
E3_SKU = {"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "disabledPlans": []}
F3_NO_EXCHANGE_SKU = {"skuId": "66b55226-6b4f-492c-910c-a3b7a3c9d993", "disabledPlans": []}

# (employee id, first, last, role, openHandwerk e-mail, case) - the fixed mapping cases.
CASES = [
    ("M-001", "Jürgen", "Müller", "Meister", "juergen.mueller@{d}", "matched"),
    ("M-002", "Stefan", "Becker", "Monteur", "Stefan.Becker@{D}", "matched_case"),  # {D}: the domain capitalised
    ("M-003", "Sabine", "Wagner", "Büro", "s.wagner@{d}", "matched_alias"),
    ("M-004", "Jörg", "Schäfer", "Monteur", "joerg.schaefer@{d}", "matched_private_events"),
    ("M-005", "Kevin", "Lange", "Azubi", "kevin.lange@gmail.com", "no_user"),
    ("M-006", "Björn", "Köhler", "Monteur", "bjoern.koehler@{d}", "no_exchange_licence"),
    ("M-007", "Günther", "Krämer", "Monteur", "guenther.kraemer@{d}", "account_disabled"),
    ("M-008", "Anna", "Wolf", "Büro", None, "no_email"),
    ("M-009", "Team", "Büro", "Büro", "buero@{d}", "ambiguous"),
    ("M-010", "Sören", "Weiß", "Meister", "soeren.weiss@{d}", "blocked_by_policy"),
]
FIRST_NAMES = ["Lukas", "Jonas", "Leon", "Finn", "Elias", "Paul", "Felix", "Maximilian", "Mia", "Lena",
               "Marie", "Hannah", "Ömer", "Zoë", "René", "Andrés", "Maja", "Tobias", "Dieter", "Uwe"]
LAST_NAMES = ["Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Hoffmann", "Schulz", "Koch", "Richter",
              "Klein", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Hofmann", "Hartmann", "Krüger"]
STREETS = ["Lindenstraße", "Hauptstraße", "Schillerstraße", "Goethestraße", "Am Mühlbach", "Bahnhofstraße",
           "Gartenweg", "Kirchplatz", "Rosenallee", "Industriestraße"]
CITIES = [("50667", "Köln"), ("53111", "Bonn"), ("51373", "Leverkusen"), ("50858", "Köln-Weiden"),
          ("41460", "Neuss"), ("40213", "Düsseldorf"), ("42103", "Wuppertal")]
CUSTOMERS = ["Familie Schröder", "Bäckerei Größer", "Wohnungsbau Rhein eG", "Dr. Özdemir", "Hausverwaltung Weiß & Söhne",
             "Kita Sonnenschein", "Autohaus Jäger", "Familie Nguyễn", "Praxis Dr. Brüning", "Gemeinde Rösrath"]
KINDS = [
    # (category, title template, duration hours or None for all-day, weight)
    ("Kundentermin", "Kundentermin {customer}", 1.5, 30),
    ("Baustelle", "Baustelle {customer}: Heizungstausch", 8.0, 20),
    ("Aufmaß", "Aufmaß Bad {customer}", 1.0, 15),
    ("Wartung", "Wartung Gastherme {customer}", 2.0, 20),
    ("Baustelle", "Rohbau {customer} (mehrtägig)", None, 7),
    ("Urlaub", "Urlaub", None, 5),
    ("Schulung", "Schulung Wärmepumpe (Viessmann Akademie)", 7.0, 3),
]
LONG_TEXT = (
    "Bitte vor Arbeitsbeginn beim Kunden klingeln (Hinterhaus, 2. OG). Material: 2x Thermostatventil, "
    "Kupferrohr 15 mm, Pressfittinge. Schlüssel liegt beim Nachbarn. Achtung Hund! "
)


@dataclass
class SeedUser:
    id: str
    displayName: str
    userPrincipalName: str
    mail: str | None
    proxyAddresses: list[str] = field(default_factory=list)
    otherMails: list[str] = field(default_factory=list)
    accountEnabled: bool = True
    assignedLicenses: list[dict] = field(default_factory=list)
    assignedPlans: list[dict] = field(default_factory=list)
    userType: str = "Member"

    def as_graph(self) -> dict:
        return dict(self.__dict__)

    @property
    def has_mailbox(self) -> bool:
        return any(p["service"] == "exchange" and p["capabilityStatus"] == "Enabled" for p in self.assignedPlans)


@dataclass
class SeedData:
    employees: list[dict]
    users: list[SeedUser]
    appointments: list[dict]
    private_events: dict[str, list[dict]]  # user id -> events not created by us
    expected_outcomes: dict[str, str]  # employee id -> mapping outcome the seed intends
    blocked_user_ids: set[str]


def _uuid(rng: random.Random) -> str:
    """A version-4 style UUID drawn from the seeded generator (repeatable, unlike uuid4)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ascii(name: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue",
                           "é": "e", "ë": "e", "ễ": "e", "á": "a", "ó": "o"})
    return name.translate(table).lower().replace(" ", "")


def _licensed(rng: random.Random, upn: str, display: str, mail: str | None = None, **kw) -> SeedUser:
    return SeedUser(
        id=_uuid(rng), displayName=display, userPrincipalName=upn, mail=mail if mail is not None else upn,
        proxyAddresses=[f"SMTP:{mail or upn}"], assignedLicenses=[E3_SKU],
        assignedPlans=[EXCHANGE_PLAN, TEAMS_PLAN], **kw,
    )


def build_seed(
    seed: int = 42,
    employees: int = 12,
    appointments_per_employee: int = 12,
    base_date: dt.date | None = None,
    span_days: int = 60,
    cases: bool = True,
    domain: str = DOMAIN,
) -> SeedData:
    """The same arguments always give the same data.

    `domain` is the business's e-mail domain (a fleet's tenants each have their own, so no two share an address).

    `cases=False` leaves out the mapping cases: every employee then has a licensed mailbox
    (benchmarks want E employees to mean E mailboxes).
    """
    rng = random.Random(seed)
    base = base_date or dt.date.today()
    d = domain
    capitalised = ".".join("-".join(p.capitalize() for p in label.split("-")) for label in d.split(".")[:-1])
    big_d = f"{capitalised}.{d.rsplit('.', 1)[-1]}"
    emp_records: list[dict] = []
    users: list[SeedUser] = []
    expected: dict[str, str] = {}
    blocked: set[str] = set()
    private: dict[str, list[dict]] = {}

    fixed = CASES[: max(employees, 0)] if cases else []
    for emp_id, first, last, role, email, case in fixed:
        emp_records.append({
            f.EMPLOYEE_ID: emp_id, f.FIRST_NAME: first, f.LAST_NAME: last, f.ROLE: role,
            f.EMAIL: email.format(d=d, D=big_d) if email else None, f.ACTIVE: True,
        })
        local = f"{_ascii(first)}.{_ascii(last)}"
        upn = f"{local}@{d}"
        display = f"{first} {last}"
        expected[emp_id] = {"matched_case": "matched", "matched_alias": "matched",
                            "matched_private_events": "matched"}.get(case, case)
        if case in ("matched", "matched_case", "matched_private_events"):
            users.append(_licensed(rng, upn, display))
        elif case == "matched_alias":
            user = _licensed(rng, f"sabine.wagner@{d}", display)
            user.proxyAddresses.append(f"smtp:s.wagner@{d}")
            users.append(user)
        elif case == "no_exchange_licence":
            users.append(SeedUser(_uuid(rng), display, upn, upn, [f"SMTP:{upn}"],
                                  assignedLicenses=[F3_NO_EXCHANGE_SKU], assignedPlans=[TEAMS_PLAN]))
        elif case == "account_disabled":
            users.append(_licensed(rng, upn, display, accountEnabled=False))
        elif case == "ambiguous":
            for who in ("anna.wolf", "petra.jung"):
                user = _licensed(rng, f"{who}@{d}", who.replace(".", " ").title())
                user.proxyAddresses.append(f"smtp:buero@{d}")
                users.append(user)
        elif case == "blocked_by_policy":
            user = _licensed(rng, upn, display)
            users.append(user)
            blocked.add(user.id)
        if case == "matched_private_events":
            private[users[-1].id] = [
                {"subject": "Zahnarzt (privat)", "days": 1, "hour": 16},
                {"subject": "Elternabend", "days": 3, "hour": 19},
            ]
    # Users without an employee: counted, never listed.
    users.append(_licensed(rng, f"admin@{d}", "Administrator"))
    users.append(_licensed(rng, f"buchhaltung@{d}", "Buchhaltung"))
    for i in range(len(fixed), employees):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        emp_id = f"M-{i + 1:03d}"
        upn = f"{_ascii(first)}.{_ascii(last)}{i + 1}@{d}"
        emp_records.append({f.EMPLOYEE_ID: emp_id, f.FIRST_NAME: first, f.LAST_NAME: last, f.ROLE: "Monteur",
                            f.EMAIL: upn, f.ACTIVE: True})
        users.append(_licensed(rng, upn, f"{first} {last}"))
        expected[emp_id] = "matched"

    appointments = _appointments(rng, emp_records, appointments_per_employee, base, span_days)
    return SeedData(emp_records, users, appointments, private, expected, blocked)


def _dst_days(year: int) -> list[dt.date]:
    """Last Sundays of March and October: the EU's DST changes."""
    days = []
    for month in (3, 10):
        last = dt.date(year, month, 31)
        days.append(last - dt.timedelta(days=(last.weekday() + 1) % 7))
    return days


def _appointments(rng: random.Random, employees: list[dict], per_employee: int, base: dt.date,
                  span_days: int) -> list[dict]:
    out: list[dict] = []
    weights = [k[3] for k in KINDS]
    next_id = 10001
    dst = [day for year in (base.year - 1, base.year, base.year + 1) for day in _dst_days(year)
           if abs((day - base).days) <= span_days]
    for emp in employees:
        for n in range(per_employee):
            category, template, hours, _ = rng.choices(KINDS, weights)[0]
            customer = rng.choice(CUSTOMERS)
            zip_code, city = rng.choice(CITIES)
            if n == 0 and dst:
                day = rng.choice(dst)
            else:
                day = base + dt.timedelta(days=rng.randint(-span_days // 3, span_days))
            record: dict = {
                f.APPOINTMENT_ID: f"T-{next_id}", f.TITLE: template.format(customer=customer), f.CATEGORY: category,
                f.CUSTOMER: customer if category != "Urlaub" else "",
                f.PROJECT_NUMBER: f"P-{rng.randint(2024000, 2026999)}" if category == "Baustelle" else "",
                f.DESCRIPTION: (LONG_TEXT * rng.randint(1, 4)).strip() if rng.random() < 0.3 else
                f"{category} für {customer}",
                f.ADDRESS: {f.STREET: rng.choice(STREETS), f.HOUSE_NUMBER: str(rng.randint(1, 120)),
                            f.ZIP: zip_code, f.CITY: city} if category != "Urlaub" else None,
                f.EMPLOYEES: [emp[f.EMPLOYEE_ID]],
                f.STATUS: f.CANCELLED if rng.random() < 0.05 else f.PLANNED,
            }
            next_id += 1
            if hours is None:
                length = rng.randint(1, 5) if category == "Urlaub" else rng.randint(2, 3)
                record |= {f.ALL_DAY: True, f.START: day.isoformat(),
                           f.END: (day + dt.timedelta(days=length - 1)).isoformat()}
            else:
                start_hour = 7 if hours >= 7 else rng.choice([7, 8, 9, 10, 13, 14, 15])
                start = dt.datetime.combine(day, dt.time(start_hour, rng.choice([0, 30])))
                end = start + dt.timedelta(hours=hours)
                record |= {f.ALL_DAY: False, f.START: start.isoformat(), f.END: end.isoformat()}
            if rng.random() < 0.2 and len(employees) > 1:
                other = rng.choice(employees)[f.EMPLOYEE_ID]
                if other != emp[f.EMPLOYEE_ID]:
                    record[f.EMPLOYEES].append(other)
            out.append(record)
    # Two malformed records that must be rejected with a reason, never stop the rest.
    out.append({f.APPOINTMENT_ID: "T-BAD-1", f.TITLE: "Termin ohne Beginn", f.START: None, f.END: None,
                f.EMPLOYEES: [employees[0][f.EMPLOYEE_ID]] if employees else []})
    bad_day = dt.datetime.combine(base + dt.timedelta(days=2), dt.time(10))
    out.append({f.APPOINTMENT_ID: "T-BAD-2", f.TITLE: "Ende vor Beginn", f.START: bad_day.isoformat(),
                f.END: (bad_day - dt.timedelta(hours=1)).isoformat(), f.ALL_DAY: False,
                f.EMPLOYEES: [employees[0][f.EMPLOYEE_ID]] if employees else []})
    return out
