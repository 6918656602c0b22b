"""Many businesses on one sandbox: a `Fleet` of tenants, each its own `SandboxState`.

Each tenant has its own Entra directory (tenant id), app (client id, secret), users and mailboxes,
openHandwerk account (Kundennummer, login) and faults. The app (`app.create_app`) routes a request to
its tenant: Entra by the path's tenant id, Graph by the access token's `tid`, openHandwerk by the
login's Kundennummer and then the openHandwerk token's `idKn` (fidelity rows N1, N2).

Generation is deterministic: the same (tenants, mailboxes, appointments, seed, factors) always gives
the same tenants, ids, secrets, names and data; tenant i's data has its own seed and e-mail domain.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import random
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devtools.sandbox import oh_fields as f
from devtools.sandbox.state import Faults, Identity, SandboxState

# The namespace of every fleet id (uuid5 over "<seed>/<index>/<what>").
FLEET_NAMESPACE = uuid.UUID("9b0c6a52-3f4e-5d1a-8c2b-6e7f80a1b2c3")
TRADES = ["Elektro", "Sanitär", "Heizungsbau", "Dachdeckerei", "Malerbetrieb", "Tischlerei", "Haustechnik",
          "Metallbau", "Fliesenleger", "Gartenbau", "Schlosserei", "Zimmerei"]
SURNAMES = ["Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz"]
LEGAL_FORMS = ["GmbH", "e.K.", "GmbH & Co. KG", "& Söhne", "OHG", "Meisterbetrieb"]
SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class FleetSize:
    """tenants x mailboxes (per tenant) x appointments (per mailbox)."""

    tenants: int
    mailboxes: int
    appointments: int

    @classmethod
    def parse(cls, text: str) -> FleetSize:
        """"30x5x20" -> FleetSize(30, 5, 20); ValueError for anything else."""
        match = SIZE_RE.match(text)
        if not match:
            raise ValueError(f"fleet size must be TENANTSxMAILBOXESxAPPOINTMENTS, e.g. 30x5x20, not {text!r}")
        return cls(*(int(g) for g in match.groups()))


def ascii_slug(text: str, sep: str = "-") -> str:
    """'Sanitär Schäfer' -> 'sanitaer-schaefer' (German transliteration, then ASCII letters and digits only)."""
    text = text.translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                                         "Ü": "Ue", "&": " "}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)


def tenant_identity(index: int, seed: int = 42) -> Identity:
    """Tenant `index` of a fleet made with `seed`: stable ids (uuid5), its own secret, Kundennummer and name."""

    def uid(what: str) -> str:
        return str(uuid.uuid5(FLEET_NAMESPACE, f"{seed}/{index}/{what}"))

    digest = hashlib.sha256(f"oh-sandbox-fleet/{seed}/{index}".encode()).hexdigest()
    combos = [(trade, name) for name in SURNAMES for trade in TRADES]
    random.Random(seed).shuffle(combos)
    trade, surname = combos[index % len(combos)]
    legal = LEGAL_FORMS[int(digest[:4], 16) % len(LEGAL_FORMS)]
    lap = index // len(combos)  # past every trade x surname: the same pair again, numbered
    number = f" {lap + 1}" if lap else ""
    domain = f"{ascii_slug(trade)}-{ascii_slug(surname)}{f'-{lap + 1}' if lap else ''}.de"
    return Identity(
        tenant_id=uid("tenant"), client_id=uid("client"), client_secret=f"sbx~{digest[4:36]}",
        secret_id=uid("secret"), oh_id_kn=str(10000 + index), oh_employee="api-sync",
        oh_password=f"sbx-oh-{digest[36:52]}", display_name=f"{trade} {surname}{number} {legal}",
        key=f"t{index:03d}", domain=domain,
    )


def tenant_seed(index: int, seed: int) -> int:
    """The data seed of tenant `index`: differs per tenant, fixed for (seed, index)."""
    return int(hashlib.sha256(f"oh-sandbox-fleet-data/{seed}/{index}".encode()).hexdigest()[:8], 16)


def _employee_mailboxes(state: SandboxState) -> int:
    """Employees whose e-mail is a licensed mailbox's address (the mailboxes a sync writes to)."""
    addresses = {u.userPrincipalName.casefold() for u in state.users.values() if u.has_mailbox}
    return sum(1 for e in state.employees.values() if str(e.get(f.EMAIL) or "").casefold() in addresses)


class Fleet:
    """Tenants in order (the first is the default of the inspection routes), found by key, tenant id,
    Kundennummer or index. The states are the tenants' own: change one (faults, mistakes, data), the
    others stay as they are."""

    def __init__(self, states: Iterable[SandboxState]) -> None:
        self.states: list[SandboxState] = list(states)
        if not self.states:
            raise ValueError("a fleet needs at least one tenant")
        self._by_key = {s.key: s for s in self.states}
        self._by_tenant = {s.tenant_id: s for s in self.states}
        self._by_id_kn = {s.oh_id_kn: s for s in self.states}
        if not len(self._by_key) == len(self._by_tenant) == len(self._by_id_kn) == len(self.states):
            raise ValueError("tenants must have distinct keys, tenant ids and Kundennummern")

    @classmethod
    def single(cls, state: SandboxState) -> Fleet:
        """Today's sandbox: one tenant."""
        return cls([state])

    @classmethod
    def generate(
        cls,
        tenants: int,
        mailboxes: int,
        appointments: int,
        seed: int = 42,
        factors: Mapping[int | str, float] | None = None,
        faults: Mapping[int | str, Faults] | None = None,
        base_date: dt.date | None = None,
        **state_options: Any,
    ) -> Fleet:
        """`tenants` tenants of `mailboxes` licensed mailboxes (one per employee, every employee matched)
        with `appointments` appointments each. `factors` scales a tenant's mailboxes ({3: 10} or {"t003": 10}:
        tenant 3 has 10x); `faults` gives a tenant its own Faults; `state_options` go to every SandboxState
        (latency_ms, behaviour, ...). Raises ValueError for a negative size."""
        if min(tenants, mailboxes, appointments) < 0 or tenants < 1:
            raise ValueError("tenants >= 1, mailboxes and appointments >= 0")
        factors, faults = dict(factors or {}), dict(faults or {})
        base = base_date or dt.date.today()
        states = []
        for index in range(tenants):
            identity = tenant_identity(index, seed)
            factor = factors.get(index, factors.get(identity.key, 1))
            states.append(SandboxState(
                seed=tenant_seed(index, seed), employees=max(1, round(mailboxes * factor)),
                appointments_per_employee=appointments, base_date=base, cases=False, identity=identity,
                faults=copy.copy(faults.get(index, faults.get(identity.key))), **state_options,
            ))
        return cls(states)

    # ------------------------------------------------------------------ lookup
    @property
    def first(self) -> SandboxState:
        return self.states[0]

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.states]

    def __len__(self) -> int:
        return len(self.states)

    def __iter__(self) -> Iterator[SandboxState]:
        return iter(self.states)

    def get(self, ident: str | int | None) -> SandboxState | None:
        """The tenant named by key ("t003"), tenant id or index; None (the argument) -> the first; else None."""
        if ident is None or ident == "":
            return self.first
        if isinstance(ident, int):
            return self.states[ident] if 0 <= ident < len(self.states) else None
        return self._by_key.get(ident) or self._by_tenant.get(ident.lower())

    def __getitem__(self, ident: str | int) -> SandboxState:
        state = self.get(ident)
        if state is None:
            raise KeyError(ident)
        return state

    def by_tenant_id(self, tenant_id: str) -> SandboxState | None:
        return self._by_tenant.get(tenant_id.lower())

    def by_id_kn(self, id_kn: object) -> SandboxState | None:
        return self._by_id_kn.get(str(id_kn))

    # ------------------------------------------------------------------ inspection
    def summary(self) -> list[dict]:
        """One row per tenant: key, name, tenant id, Kundennummer, mailboxes, faults set, counters."""
        rows, defaults = [], vars(Faults())
        for s in self.states:
            with s.lock:
                c = s.counters
                rows.append({
                    "key": s.key, "name": s.display_name, "tenant_id": s.tenant_id, "client_id": s.client_id,
                    "oh_id_kn": s.oh_id_kn, "domain": s.domain,
                    "mailboxes": _employee_mailboxes(s), "users": len(s.users),
                    "employees": len(s.employees), "appointments": len(s.appointments),
                    "faults": {k: v for k, v in vars(s.faults).items() if v != defaults[k]},
                    "counters": {"http_requests": c.http_requests, "token_requests": c.token_requests,
                                 "batch_calls": c.batch_calls, "throttled_total": sum(c.throttled.values()),
                                 "faults": sum(c.faults.values()), "oh_requests": c.oh_requests},
                })
        return rows
