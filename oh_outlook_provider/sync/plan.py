"""Desired events x our existing events of one mailbox -> a Plan. Pure: no I/O.

Per key: missing -> create; extra -> delete; both -> unchanged, update (only changed
fields) or conflict when Outlook-side edits are found (fingerprint of the current fields
differs from what we stored). Duplicates of a key are deleted, keeping one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Literal

from oh_outlook_provider.graph import paths
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.models import Rejected
from oh_outlook_provider.sync.render import NO_ADDRESS, DesiredEvent
from oh_outlook_provider.sync.tags import FINGERPRINT_PROP, KEY_PROP, SOURCE_PROP, EventKey

OnOutlookEdit = Literal["overwrite", "keep", "fail"]
POLICIES = ("overwrite", "keep", "fail")


@dataclass(frozen=True)
class ExistingEvent:
    """One of our events as read from Graph (with its tags expanded)."""

    id: str
    key: EventKey | None
    source: str | None
    fingerprint_tag: str | None  # the fingerprint tag as stored (fingerprint.encode), None when missing
    marks: tuple[str | None, str | None, str | None]  # its ALL, CMP and SRC digests (fingerprint.marks)
    texts: tuple[str, ...]  # canonical texts of the COMPARABLE fields as they are now
    digest: str = ""  # of those texts
    elsewhere: bool = False  # in another calendar of the mailbox than the target (calendar_name changed)
    legacy: dict[str, str] = field(default_factory=dict)  # 0.3's hashes where they differ (fingerprint.legacy_hashes)

    @cached_property
    def stored(self) -> dict[str, str]:
        """The fingerprint we wrote: per-field hashes and digests (decoded only when a digest differs)."""
        return fingerprint.decode(self.fingerprint_tag)

    @cached_property
    def start_utc(self) -> dt.datetime | None:
        """The start as a UTC instant; None for an all-day event or an unreadable start."""
        start = self.texts[_START]
        if start.endswith("Z") and self.texts[_ALL_DAY] == "false":
            return dt.datetime.fromisoformat(start[:-1]).replace(tzinfo=dt.UTC)
        return None

    @cached_property
    def current(self) -> dict[str, str]:
        """Per-field hashes of the fields as they are now (worked out only when needed)."""
        return fingerprint.per_field(fingerprint.COMPARABLE, self.texts)

    @property
    def current_digest(self) -> str:
        return self.digest

    @classmethod
    def from_graph(cls, event: Mapping[str, Any], elsewhere: bool = False) -> ExistingEvent:
        props = {p.get("id"): p.get("value") for p in event.get("singleValueExtendedProperties") or []}
        texts = fingerprint.comparable_texts(event)
        stored = props.get(FINGERPRINT_PROP)
        marks = fingerprint.marks(stored)
        digest = fingerprint.digest(fingerprint.COMPARABLE, texts)
        return cls(
            id=str(event["id"]),
            key=EventKey.parse(props.get(KEY_PROP) or ""),
            source=props.get(SOURCE_PROP),
            fingerprint_tag=stored,
            marks=marks,
            texts=texts,
            digest=digest,
            elsewhere=elsewhere,
            # 0.3's hashes only matter for a field that differs from the stored one: none when the digest matches
            legacy=fingerprint.legacy_hashes(event, texts) if digest != marks[1] else {},
        )


_START, _ALL_DAY = fingerprint.COMPARABLE.index("start"), fingerprint.COMPARABLE.index("isAllDay")


# Each action knows its own Graph request (as vdirsyncer's actions run themselves); the runner
# only decides the order. `target` is the events collection of the target calendar: creates go
# there, updates and deletes address the event by its immutable id wherever it is.
@dataclass(frozen=True)
class Create:
    desired: DesiredEvent

    @property
    def key(self) -> EventKey:
        return self.desired.key

    def request(self, mailbox: str, target: str, salt: str) -> dict[str, Any]:
        """The POST, its body deferred (built when its `$batch` call goes out: hooks/graph_batch.batch):
        a first sync's thousands of bodies (tags, fingerprint, transactionId; ~0.1 ms each) would
        otherwise all be built before any mailbox's first write leaves."""
        return {"method": "POST", "url": target, "body": partial(self.desired.create_body, salt)}


@dataclass(frozen=True)
class Update:
    event_id: str
    desired: DesiredEvent
    fields: tuple[str, ...]

    @property
    def key(self) -> EventKey:
        return self.desired.key

    def patch_body(self) -> dict[str, Any]:
        body = {name: self.desired.fields[name] for name in self.fields}
        if "location" in body and "address" not in body["location"]:
            body["location"] = {**body["location"], "address": NO_ADDRESS}  # a merging PATCH keeps the old one
        body["singleValueExtendedProperties"] = self.desired.tags()
        return body

    def request(self, mailbox: str, target: str, salt: str) -> dict[str, Any]:
        return {"method": "PATCH", "url": paths.event(mailbox, self.event_id), "body": self.patch_body()}


DUPLICATE = "duplicate of the same appointment"
MOVED = "moved to the target calendar"
GONE = "appointment gone, cancelled or no longer assigned"


@dataclass(frozen=True)
class Delete:
    event_id: str
    key: EventKey | None
    reason: str

    @property
    def loses_nothing(self) -> bool:
        """A duplicate or a copy left in another calendar: the appointment keeps its event."""
        return self.reason in (DUPLICATE, MOVED)

    def request(self, mailbox: str, target: str, salt: str) -> dict[str, Any]:
        return {"method": "DELETE", "url": paths.event(mailbox, self.event_id)}


Action = Create | Update | Delete


@dataclass(frozen=True)
class Conflict:
    event_id: str
    key: EventKey
    fields: tuple[str, ...]
    resolution: str  # overwritten | kept | failed


@dataclass(frozen=True)
class PlanPolicy:
    on_outlook_edit: OnOutlookEdit = "overwrite"
    max_delete_fraction: float = 0.5
    allow_mass_delete: bool = False
    mass_delete_min: int = 5  # below this many deletes the guard never trips

    def __post_init__(self) -> None:
        if self.on_outlook_edit not in POLICIES:
            raise ValueError(f"on_outlook_edit must be one of {', '.join(POLICIES)}, not {self.on_outlook_edit!r}")
        if not 0 <= self.max_delete_fraction <= 1:
            raise ValueError("max_delete_fraction must be between 0 and 1")


@dataclass
class Plan:
    creates: list[Create] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    blocked_deletes: list[Delete] = field(default_factory=list)
    guard_message: str | None = None
    ours: int = 0  # our events the plan was made from

    @property
    def real_deletes(self) -> list[Delete]:
        """Deletes that take an appointment's event away (what the mass-delete guards count)."""
        return [d for d in self.deletes if not d.loses_nothing]

    def block_real_deletes(self, message: str) -> None:
        real = self.real_deletes
        self.blocked_deletes.extend(real)
        self.deletes = [d for d in self.deletes if d.loses_nothing]
        self.guard_message = self.guard_message or message

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def counts(self) -> dict[str, int]:
        return {
            "create": len(self.creates),
            "update": len(self.updates),
            "delete": len(self.deletes),
            "unchanged": self.unchanged,
            "conflict": len(self.conflicts),
            "rejected": len(self.rejected),
            "delete_blocked": len(self.blocked_deletes),
        }

    def problems(self) -> str | None:
        """Why the mailbox fails although its writes went through: deletes a guard held back, and
        events edited in Outlook under on_outlook_edit='fail' (the first ten named). None: none."""
        problems = [self.guard_message] if self.guard_message and self.blocked_deletes else []
        failed = [c for c in self.conflicts if c.resolution == "failed"]
        if failed:
            problems.append(f"{len(failed)} event(s) were edited in Outlook and on_outlook_edit='fail': "
                            + ", ".join(f"{c.key.appointment_id} ({'/'.join(c.fields)})" for c in failed[:10]))
        return " ".join(problems) or None


def _fields_to_patch(desired: DesiredEvent, names: Iterable[str]) -> tuple[str, ...]:
    chosen = set(names)
    if chosen & fingerprint.TIME_FIELDS:  # Graph validates start/end/isAllDay together
        chosen |= fingerprint.TIME_FIELDS
    if "body" in chosen and desired.appointment.address is not None:
        chosen.add("location")  # the address is compared through the body (render.location says why)
    return tuple(name for name in fingerprint.MANAGED if name in chosen)


def kept_first(event: ExistingEvent) -> tuple[bool, str]:
    """The order copies of one key are kept in: target calendar first, then by id, so the smallest id
    stays. Every overlapping run applies the same rule, so two runs never keep different copies."""
    return event.elsewhere, event.id


def duplicates(events: Iterable[ExistingEvent], keys: Iterable[EventKey]) -> list[Delete]:
    """The surplus copies among `events` of each of `keys` (a run's read-back of what it created):
    every copy but the one `kept_first` keeps, as deletes."""
    wanted, kept = set(keys), set()
    deletes = []
    for event in sorted(events, key=kept_first):
        if event.key not in wanted:
            continue
        if event.key in kept:
            deletes.append(Delete(event.id, event.key, DUPLICATE))
        kept.add(event.key)
    return deletes


def plan_mailbox(
    desired: Iterable[DesiredEvent],
    existing: Iterable[ExistingEvent],
    policy: PlanPolicy = PlanPolicy(),
    source: str | None = None,
) -> Plan:
    """The writes that make our events in one mailbox equal `desired`.

    `existing` must hold only events read with our source filter; anything with another
    source (or none) is ignored here as a second line of defence.
    """
    plan = Plan()
    wanted: dict[EventKey, DesiredEvent] = {}
    for item in desired:
        wanted.setdefault(item.key, item)
    found: dict[EventKey, ExistingEvent] = {}
    for event in sorted(existing, key=kept_first):
        if source is not None and event.source != source:
            continue
        plan.ours += 1
        if event.key is None:
            plan.deletes.append(Delete(event.id, None, "our tag without a readable key"))
        elif event.elsewhere:
            plan.deletes.append(Delete(event.id, event.key, MOVED if event.key in wanted else GONE))
        elif event.key in found:
            plan.deletes.append(Delete(event.id, event.key, DUPLICATE))
        else:
            found[event.key] = event

    for key, want in wanted.items():
        have = found.get(key)
        if have is None:
            plan.creates.append(Create(want))
            continue
        stored_all, stored_cmp, stored_src = have.marks  # have.stored's ALL, CMP and SRC, read without decoding it
        if have.current_digest == stored_cmp and (want.source_digest == stored_src or want.digest == stored_all):
            # The common case, decided without per-field hashes: not edited in Outlook, and either rendered
            # from the very inputs of the rendering we stored (then nothing is rendered) or rendered equal.
            plan.unchanged += 1
            continue
        edited = tuple(n for n in fingerprint.COMPARABLE if have.current[n] != have.stored.get(n)
                       and have.legacy.get(n) != have.stored.get(n))  # as 0.3 stored it: no edit (upgrade)
        ours_changed = {n for n in fingerprint.MANAGED if want.hashes[n] != have.stored.get(n)}
        if edited and have.stored:
            if policy.on_outlook_edit == "overwrite":
                differs = {n for n in edited if want.hashes[n] != have.current.get(n)}
                plan.conflicts.append(Conflict(have.id, key, edited, "overwritten"))
                plan.updates.append(Update(have.id, want, _fields_to_patch(want, ours_changed | differs | set(edited))))
            else:
                plan.conflicts.append(Conflict(have.id, key, edited, "kept" if policy.on_outlook_edit == "keep" else "failed"))
            continue
        if ours_changed:
            plan.updates.append(Update(have.id, want, _fields_to_patch(want, ours_changed)))
        else:
            plan.unchanged += 1

    for key, have in found.items():
        if key not in wanted:
            plan.deletes.append(Delete(have.id, key, GONE))

    real = len(plan.real_deletes)
    if not policy.allow_mass_delete and real >= policy.mass_delete_min and real > policy.max_delete_fraction * max(plan.ours, 1):
        plan.block_real_deletes(
            f"mass-delete guard: {real} of {plan.ours} events would be deleted "
            f"(more than {policy.max_delete_fraction:.0%}); nothing was deleted. If openHandwerk really lost these "
            "appointments, rerun with allow_mass_delete=True."
        )
    return plan


def run_guard(plans: Iterable[Plan], records_read: int, policy: PlanPolicy) -> str | None:
    """The mass-delete guard over a whole run: the reason to hold back every delete, or None.

    A mailbox's own guard cannot protect a small window (a backfill day with three events per
    mailbox never reaches `mass_delete_min`). So, in the spirit of vdirsyncer's "storage is
    empty" refusal: openHandwerk answering nothing at all for a window in which we hold events,
    or the run as a whole deleting more than `max_delete_fraction` of our events, holds back
    every delete of the run, with the same explicit override.
    """
    plans = list(plans)
    # A mailbox's own guard may have held its deletes back already: they still count for the run,
    # or the small mailboxes below that guard's minimum would lose everything the big ones kept.
    real = sum(len(p.real_deletes) + len(p.blocked_deletes) for p in plans)
    ours = sum(p.ours for p in plans)
    if policy.allow_mass_delete or real == 0:
        return None
    if records_read == 0:
        return (f"openHandwerk returned no appointment at all for this window, while we hold {ours} events in it; "
                f"nothing was deleted (the {real} deletes are held back). If the window really is empty now, "
                "rerun with allow_mass_delete=True.")
    if real >= policy.mass_delete_min and real > policy.max_delete_fraction * max(ours, 1):
        return (f"mass-delete guard (whole run): {real} of {ours} events would be deleted "
                f"(more than {policy.max_delete_fraction:.0%}); nothing was deleted. If openHandwerk really lost "
                "these appointments, rerun with allow_mass_delete=True.")
    return None
