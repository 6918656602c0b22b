"""In-memory state of the sandbox tenant: apps, users, calendars, events, openHandwerk data, counters."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

from devtools.sandbox import oh_fields
from devtools.sandbox.categories import seed_categories
from devtools.sandbox.events import store_event
from devtools.sandbox.seed import DOMAIN, SeedData, build_seed

TENANT_ID = "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
CLIENT_ID = "0a1b2c3d-1111-4222-8333-444455556666"
CLIENT_SECRET = "sbx~Q8Vw.0hT3xGk2mZ-demo-only-7bPq"  # noqa: S105 - sandbox credential, printed on start
SECRET_ID = "3c9f1a2b-7d6e-4f50-9a8b-1c2d3e4f5a6b"
OH_ID_KN = "4711"
OH_EMPLOYEE = "api-sync"
OH_PASSWORD = "sbx-oh-password"  # noqa: S105 - sandbox credential
GRAPH_ROLES = {"User.Read.All", "Calendars.ReadWrite"}


@dataclass(frozen=True)
class Identity:
    """Who a sandbox tenant is: its Entra directory and app, its openHandwerk account, its name.

    The defaults are the single-tenant sandbox's (the module constants); `devtools/sandbox/fleet.py`
    makes one per tenant of a fleet. `key` is ASCII and safe inside an Airflow connection id.
    """

    tenant_id: str = TENANT_ID
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    secret_id: str = SECRET_ID  # the portal's "Secret ID" of `client_secret`
    oh_id_kn: str = OH_ID_KN  # openHandwerk's Kundennummer
    oh_employee: str = OH_EMPLOYEE
    oh_password: str = OH_PASSWORD
    display_name: str = "Müller Haustechnik GmbH"
    key: str = "default"
    domain: str = DOMAIN  # the users' and employees' e-mail domain


@dataclass
class Secret:
    value: str
    expires: dt.datetime
    key_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the portal's "Secret ID"
    description: str = "Zugang openHandwerk"  # as the setup guide names it
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class App:
    client_id: str
    secrets: list[Secret] = field(default_factory=list)
    certificates: dict[str, str] = field(default_factory=dict)  # sha1 thumbprint (upper hex) -> cert PEM
    roles: set[str] = field(default_factory=lambda: set(GRAPH_ROLES))
    policy_user_ids: set[str] | None = None  # application access policy: allowed mailboxes
    rbac_user_ids: set[str] | None = None  # RBAC for Applications: the management scope's mailboxes
    # API permissions as added to the registration, name -> "Role" (Application) or "Scope" (Delegated); None: the
    # consented `roles`, each as Role. `roles` is what admin consent granted: the token's roles claim (row K3).
    added: dict[str, str] | None = None


@dataclass
class Faults:
    """Probabilities per request; the draw is a hash of (seed, mailbox, request number): repeatable."""

    p429: float = 0.0
    p503: float = 0.0
    p504: float = 0.0
    p_lost: float = 0.0  # processed, then the answer is held back past the client's timeout
    p504_after: float = 0.0  # processed, then 504 GatewayTimeout (fidelity row F2)
    lost_delay: float = 2.0
    retry_after: float = 1.0  # Graph sends whole seconds, at least 1 (fidelity row R1)
    expire_token_in_batch: bool = False  # one-shot: the envelope's token expires before its sub-requests run
    oh_down: bool = False  # every openHandwerk request answers a proxy's 503 page (fidelity row N2)

    @classmethod
    def profile(cls, name: str) -> Faults:
        return {
            "none": cls(),
            "flaky": cls(p429=0.05, p503=0.02, p504=0.02),
            "harsh": cls(p429=0.15, p503=0.05, p504=0.05, p_lost=0.01, p504_after=0.01),
        }[name]


@dataclass
class Limits:
    mailbox_concurrency: int = 4
    budget_requests: int = 10_000
    budget_window: float = 600.0
    concurrency_retry_after: float = 1.0


BATCH_EXECUTIONS = ("four_at_a_time", "all_at_once")
DUPLICATE_TRANSACTIONS = ("first_event", "error")
COMPLEX_PATCHES = ("replace", "merge")
ADDRESS_ECHOES = ("as_written", "all_keys")
DUPLICATE_CATEGORIES = ("conflict", "bad_request")
LONG_TEXTS = ("truncate", "ellipsis", "refuse")
LINE_BREAKS = ("drop", "space", "keep")
TIME_PRECISIONS = ("seconds", "minutes")
EVENT_CATEGORIES = ("as_written", "deduplicated")


@dataclass
class Behaviour:
    """Where Microsoft's documentation is silent or contradicts itself, one setting per plausible behaviour.

    batch_execution (fidelity row B5): "four_at_a_time" - Graph hands at most 4 sub-requests of one
    batch to Outlook at once (throttling page, current revision; learn.microsoft.com Q&A 1660054);
    "all_at_once" - every ready sub-request runs at once and the mailbox answers 429
    MailboxConcurrency past 4 (older revisions, Q&A 734143).
    duplicate_transaction (fidelity row X2): a create repeating a transactionId with an identical
    body - "first_event" returns the event made first, "error" answers 400 ErrorDuplicateTransactionId.
    complex_patch (fidelity row E6): a PATCH of `location` - "replace" stores the value sent, "merge"
    keeps the nested properties the PATCH leaves out (OData 4.01 update semantics for complex values).
    address_echo (fidelity row E5): "as_written" returns `location.address` as sent, "all_keys" with
    every physicalAddress property, empty ones as "" (the shape of the docs' example responses).
    What Exchange keeps of a subject, a location's displayName and a category name (events.kept_text):
    long_text (fidelity row E7), past 255 UTF-16 units - "truncate" cuts there, "ellipsis" cuts to 252
    and appends "...", "refuse" answers 400; line_breaks (row E8), CR, LF and tab - "drop" removes them
    (PidTagSubject, MS-OXCICAL), "space" makes each a space, "keep" stores them.
    time_precision (row E9): "seconds" keeps start/end as sent, "minutes" drops the seconds.
    event_categories (row E10): "as_written" keeps an event's categories, "deduplicated" keeps one of
    each name, compared without regard to case.
    """

    batch_execution: str = "four_at_a_time"
    duplicate_transaction: str = "first_event"
    complex_patch: str = "replace"
    address_echo: str = "as_written"
    duplicate_category: str = "conflict"  # fidelity row G1: a second master category of one name
    long_text: str = "truncate"
    line_breaks: str = "drop"
    time_precision: str = "seconds"
    event_categories: str = "as_written"

    def __post_init__(self) -> None:
        if self.batch_execution not in BATCH_EXECUTIONS:
            raise ValueError(f"batch_execution must be one of {BATCH_EXECUTIONS}")
        if self.duplicate_transaction not in DUPLICATE_TRANSACTIONS:
            raise ValueError(f"duplicate_transaction must be one of {DUPLICATE_TRANSACTIONS}")
        if self.complex_patch not in COMPLEX_PATCHES:
            raise ValueError(f"complex_patch must be one of {COMPLEX_PATCHES}")
        if self.address_echo not in ADDRESS_ECHOES:
            raise ValueError(f"address_echo must be one of {ADDRESS_ECHOES}")
        if self.duplicate_category not in DUPLICATE_CATEGORIES:
            raise ValueError(f"duplicate_category must be one of {DUPLICATE_CATEGORIES}")
        for name, allowed in (("long_text", LONG_TEXTS), ("line_breaks", LINE_BREAKS),
                              ("time_precision", TIME_PRECISIONS), ("event_categories", EVENT_CATEGORIES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}")


@dataclass
class Counters:
    requests: Counter = field(default_factory=Counter)  # (mailbox, kind) -> n
    in_flight: Counter = field(default_factory=Counter)
    peak_in_flight: Counter = field(default_factory=Counter)
    throttled: Counter = field(default_factory=Counter)  # mailbox -> 429s sent
    faults: Counter = field(default_factory=Counter)
    invitations_sent: int = 0
    token_requests: int = 0
    http_requests: int = 0
    batch_calls: int = 0
    oh_requests: int = 0
    oh_window_reads: int = 0  # first pages of the appointment list: how often a window was read
    without_immutable_id: int = 0  # mailbox (sub-)requests that did not ask for IdType="ImmutableId"


class SandboxState:
    """All mutable state, guarded by one lock; latencies are waited out outside it (throttling.mailbox_call)."""

    def __init__(
        self,
        seed: int = 42,
        employees: int = 12,
        appointments_per_employee: int = 12,
        base_date: dt.date | None = None,
        span_days: int = 60,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        faults: Faults | None = None,
        limits: Limits | None = None,
        token_lifetime: int = 3600,
        access_policy: bool = True,
        cases: bool = True,
        behaviour: Behaviour | None = None,
        rbac_scope: bool = False,
        identity: Identity | None = None,
    ) -> None:
        self.lock = getattr(self, "lock", None) or threading.RLock()
        self._params = dict(seed=seed, employees=employees, appointments_per_employee=appointments_per_employee,
                            base_date=base_date, span_days=span_days, latency_ms=latency_ms, jitter_ms=jitter_ms,
                            faults=faults, limits=limits, token_lifetime=token_lifetime, access_policy=access_policy,
                            cases=cases, behaviour=behaviour, rbac_scope=rbac_scope,
                            identity=identity)
        self.identity = ident = identity or Identity()
        self.tenant_id, self.client_id, self.client_secret = ident.tenant_id, ident.client_id, ident.client_secret
        self.secret_id, self.oh_id_kn = ident.secret_id, ident.oh_id_kn
        self.oh_employee, self.oh_password = ident.oh_employee, ident.oh_password
        self.display_name, self.key, self.domain = ident.display_name, ident.key, ident.domain
        self.seed = seed
        self.rng = random.Random(seed)
        self.latency = latency_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.faults = faults or Faults()
        self.limits = limits or Limits()
        self.behaviour = behaviour or Behaviour()
        self.revoked_tokens: set[str] = set()  # jti of tokens made invalid before their expiry
        self.token_lifetime = token_lifetime
        # Each tenant signs with its own key: a token of one tenant never verifies in another.
        salt = "" if ident.tenant_id == TENANT_ID else f"-{ident.tenant_id}"
        self.signing_key = hashlib.sha256(f"sandbox-{seed}{salt}".encode()).hexdigest()
        self.data: SeedData = build_seed(seed, employees, appointments_per_employee, base_date, span_days, cases,
                                         domain=ident.domain)
        self.base_date = base_date or dt.date.today()
        self.tenants = {ident.tenant_id}
        now = dt.datetime.now(dt.UTC)
        client_id = ident.client_id
        self.apps = {
            client_id: App(client_id, [
                # the secret of a setup two years ago, expired and left in place (as portals fill up)
                Secret("old~" + hashlib.sha256(b"old").hexdigest()[:30], now - dt.timedelta(days=40),
                       "9d8c7b6a-0000-4000-8000-00000000a5e1", created=now - dt.timedelta(days=770)),
                Secret(ident.client_secret, now + dt.timedelta(days=730), ident.secret_id, created=now),
            ]),
        }
        allowed = {u.id for u in self.data.users} - self.data.blocked_user_ids
        if rbac_scope:  # scoped by RBAC for Applications: the tenant-wide consent is removed (fidelity row A2)
            self.apps[client_id].roles.discard("Calendars.ReadWrite")
            self.apps[client_id].rbac_user_ids = allowed
        elif access_policy:
            self.apps[client_id].policy_user_ids = allowed
        self.users = {u.id: u for u in self.data.users}
        self.calendars: dict[str, dict[str, dict]] = {}  # user id -> calendar id -> calendar
        self.events: dict[str, dict[str, dict]] = {}  # user id -> event id -> stored event
        self.master_categories: dict[str, dict[str, dict]] = {}  # user id -> category id -> outlookCategory
        self.transactions: dict[tuple[str, str], tuple[str, dict]] = {}  # (user, transactionId) -> (event id, body)
        self.appointments = {a[oh_fields.APPOINTMENT_ID]: copy.deepcopy(a) for a in self.data.appointments}
        self.employees = {e[oh_fields.EMPLOYEE_ID]: copy.deepcopy(e) for e in self.data.employees}
        # (from, to) -> (records, their starts, the records in the window, their indices in the records): the memory
        # of openhandwerk._window
        self.oh_windows: dict[tuple[dt.datetime, dt.datetime], tuple[list, list, list, list]] = {}
        self.counters = Counters()
        self.budget: dict[str, tuple[float, int]] = {}  # mailbox -> (window start, count)
        self._sequence = itertools.count(1)  # next() is atomic: ids are drawn without the lock
        for n, user in enumerate(u for u in self.data.users if u.has_mailbox):
            self._ensure_default_calendar(user.id)
            # One user made "baustelle" herself, in her own colour: it must stay hers (row G1).
            seed_categories(self, user.id, (("baustelle", "preset12"),) if n == 1 else ())
        self._seed_private_events()

    def reload(self, **changes: object) -> None:
        """Start over with fresh data (same object, so a running server keeps serving it)."""
        with self.lock:
            self.__init__(**{**self._params, **changes})

    # ------------------------------------------------------------------ ids, helpers
    def new_id(self, prefix: str = "AAMkAD") -> str:
        digest = hashlib.sha256(f"{self.seed}:{next(self._sequence)}".encode()).hexdigest()
        return f"{prefix}{digest[:40]}"

    def change_key(self) -> str:
        return self.new_id("CQAAA")[:24]

    def _ensure_default_calendar(self, user_id: str) -> dict:
        cals = self.calendars.setdefault(user_id, {})
        for cal in cals.values():
            if cal["isDefaultCalendar"]:
                return cal
        cal_id = self.new_id("AAMkCal")
        cals[cal_id] = {"id": cal_id, "name": "Kalender", "isDefaultCalendar": True, "changeKey": self.change_key()}
        self.events.setdefault(user_id, {})
        return cals[cal_id]

    def default_calendar(self, user_id: str) -> dict:
        # Found without the lock (a dict read is atomic; every mailbox request asks): made under it.
        for cal in list(self.calendars.get(user_id, {}).values()):
            if cal["isDefaultCalendar"]:
                return cal
        with self.lock:
            return self._ensure_default_calendar(user_id)

    def _seed_private_events(self) -> None:
        for user_id, items in self.data.private_events.items():
            cal = self._ensure_default_calendar(user_id)
            for item in items:
                start = dt.datetime.combine(self.base_date + dt.timedelta(days=item["days"]), dt.time(item["hour"]))
                body = {
                    "subject": item["subject"],
                    "start": {"dateTime": start.isoformat(), "timeZone": "W. Europe Standard Time"},
                    "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat(),
                            "timeZone": "W. Europe Standard Time"},
                    "sensitivity": "private",
                }
                store_event(self, user_id, cal["id"], body)

    def find_user(self, ident: str) -> object | None:
        user = self.users.get(ident)  # by id without the lock (a dict read is atomic; every request asks)
        if user:
            return user
        key = ident.casefold()
        with self.lock:
            for user in self.users.values():
                if user.userPrincipalName.casefold() == key:
                    return user
        return None

    # ------------------------------------------------------------------ inspection
    def mailbox_events(self, user_ident: str) -> list[dict]:
        user = self.find_user(user_ident)
        with self.lock:
            return [copy.deepcopy(e) for e in self.events.get(user.id, {}).values()] if user else []

    def stats(self) -> dict:
        with self.lock:
            c = self.counters
            per_mailbox: dict[str, dict] = {}
            for (mailbox, kind), n in c.requests.items():
                per_mailbox.setdefault(mailbox, {})[kind] = n
            return {
                "requests": per_mailbox,
                "peak_in_flight": dict(c.peak_in_flight),
                "max_in_flight": max(c.peak_in_flight.values(), default=0),
                "throttled": dict(c.throttled),
                "throttled_total": sum(c.throttled.values()),
                "faults": dict(c.faults),
                "invitations_sent": c.invitations_sent,
                "token_requests": c.token_requests,
                "http_requests": c.http_requests,
                "batch_calls": c.batch_calls,
                "oh_requests": c.oh_requests,
                "oh_window_reads": c.oh_window_reads,
                "without_immutable_id": c.without_immutable_id,
            }

    def reset_counters(self) -> None:
        with self.lock:
            self.counters = Counters()
            self.budget.clear()
