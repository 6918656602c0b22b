"""The fleet's plan: tenants -> shards -> reports, and the fleet's expiry table (no Airflow, no I/O).

The fleet DAG (``dags/oh_outlook_fleet_sync.py``) maps one `tenant` task per tenant (which also
syncs the tenant's first shard: most tenants are done in that one task start), one `sync` task per
further shard of a large tenant and one `report` task per large tenant. Between the mapped tasks
travel only these descriptors: a tenant's key and label, task map indexes and counts; a tenant's
mapping and appointments stay in that tenant's own XCom and snapshot file, which only its own
tasks read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oh_outlook_provider.i18n import _

SHARD_FIELDS = ("tenant", "label", "prepare_index", "shard", "shards")


def plan_shards(mailboxes: Iterable[str], per_shard: int) -> list[list[str]]:
    """The tenant's mailboxes (user ids) in ceil(n / per_shard) shards of near-equal size, each
    sorted; one empty shard for a tenant without mailboxes (its run still reads and reports)."""
    ordered = sorted(set(mailboxes))
    count = max(1, math.ceil(len(ordered) / max(1, per_shard)))
    return [ordered[i::count] for i in range(count)]


def fleet_shards(prepared: Iterable[Mapping[str, Any] | None], first: int = 1) -> list[dict[str, Any]]:
    """One descriptor per shard (from shard `first` on) of every tenant that got prepared, in tenant
    order: ``{"tenant", "label", "prepare_index", "shard", "shards"}`` (shards count from 1). The
    fleet's tenant task syncs shard 1 itself, so the run's `sync` tasks map over ``first=2``."""
    out: list[dict[str, Any]] = []
    for item in sorted((p for p in prepared if p), key=lambda p: p["prepare_index"]):
        for shard in range(first, int(item["shards"]) + 1):
            out.append({"tenant": item["tenant"], "label": item["label"], "prepare_index": item["prepare_index"],
                        "shard": shard, "shards": int(item["shards"])})
    return out


def sync_indexes(shards: Sequence[Mapping[str, Any]], tenant: str) -> list[int]:
    """The map indexes of the `sync` task instances that belong to `tenant` (its shards)."""
    return [index for index, shard in enumerate(shards) if shard["tenant"] == tenant]


def shard_label(shard: Mapping[str, Any]) -> str:
    """The sync task's name in the UI: the tenant, and the shard where it has several."""
    return shard["label"] if shard["shards"] == 1 else f"{shard['label']} {shard['shard']}/{shard['shards']}"


def add_totals(summaries: Iterable[Mapping[str, Any] | None]) -> dict[str, int]:
    """The shards' `totals` added up (created, updated, deleted, unchanged, ...)."""
    totals: dict[str, int] = {}
    for summary in summaries:
        for name, n in (summary or {}).get("totals", {}).items():
            totals[name] = totals.get(name, 0) + int(n)
    return totals


def employees_digest(employees: Iterable[Any]) -> str:
    """A digest of what the mapping depends on in openHandwerk (id, name, e-mail, active of each employee):
    while it is unchanged, a recent mapping stands and Graph's user list need not be read again."""
    rows = sorted((str(e.id), str(e.name), str(e.email or ""), bool(e.active)) for e in employees)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def mapping_reusable(cached: Mapping[str, Any] | None, digest: str, now: float, max_age: float) -> bool:
    """A cached mapping (``{"digest", "made_at" (epoch s), "mapping"}``) stands when the employees are
    the same and it is younger than `max_age` seconds (Microsoft 365 users and licences change too)."""
    return bool(cached) and cached.get("digest") == digest and 0 <= now - float(cached.get("made_at", 0)) < max_age


def expiry_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The fleet's credentials for the task log: tenant, credential, days left, where the date comes
    from, and the verdict; a row is ``{"label", "connection", "days_left", "source", "ok", "message"}``."""
    heads = (_("tenant"), _("connection"), _("days left"), _("source"), _("status"))
    lines = [f"{heads[0][:34]:34} {heads[1][:24]:24} {heads[2][:10]:>10} {heads[3][:16]:16} {heads[4]}"]
    lines.append("-" * len(lines[0]))
    for row in sorted(rows, key=lambda r: (r.get("days_left") is None, r.get("days_left") or 0, r["label"])):
        days = "-" if row.get("days_left") is None else str(row["days_left"])
        status = _("OK") if row.get("ok") else _("ALERT")
        source = _(row["source"]) if row.get("source") else "-"  # msgids: "Entra", "the connection"
        lines.append(f"{row['label'][:34]:34} {row['connection'][:24]:24} {days:>10} {source[:16]:16} {status}")
    return "\n".join(lines)
