"""The fleet DAG's task bodies: one tenant's preparation, one shard's sync, one tenant's report, one
tenant's credential check. Each runs in its tenant's language, with its tenant's connections only.

The DAG file (``dags/oh_outlook_fleet_sync.py``) wraps these in ``@task`` functions mapped over the
registry (``runners/tenants.py``); what passes between tasks is described in ``runners/fleet.py``.
A tenant's failure is raised from its own task instance, named by the tenant in the UI
(``map_index_template``), so every other tenant's tasks run on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.i18n import _, speaking
from oh_outlook_provider.operators.arguments import window_of
from oh_outlook_provider.operators.calendar_sync import arguments_of, sync_options
from oh_outlook_provider.operators.failures import task_failure
from oh_outlook_provider.runners import fleet
from oh_outlook_provider.runners.tenants import Tenant
from oh_outlook_provider.version_compat import AirflowFailException, AirflowSkipException

log = logging.getLogger("airflow.task")
TENANT_TASK = "tenant"  # the fleet DAG's task per tenant
PREPARED = "prepared"  # the XCom key of a tenant's mapping, snapshot descriptor and shards (its tasks only)
PLAN = "plan"  # the XCom key of a tenant's shard count, for the run's plan
MAPPING_MAX_AGE = 24 * 3600.0  # seconds a mapping stands while openHandwerk's employees are unchanged
KEEP_FOR = dt.timedelta(days=7)


def registry() -> list[dict[str, Any]]:
    """The registry's tenants as JSON-safe dicts, in order (wrong and paused ones too: their own tasks
    say so); `ConfigurationError` when Airflow could not map them all (``[core] max_map_length``)."""
    from airflow.configuration import conf

    from oh_outlook_provider.runners.tenants import check_map_length, load_registry

    tenants = [tenant.to_dict() for tenant in load_registry()]
    check_map_length(len(tenants), conf.getint("core", "max_map_length", fallback=1024))
    return tenants


def usable(data: Mapping[str, Any]) -> Tenant:
    """The registry entry as a `Tenant`; a wrong entry fails its task, a paused one is skipped."""
    tenant = Tenant.from_dict(data)
    if tenant.problem:
        raise AirflowFailException(_("Tenant {tenant}: the registry entry is wrong: {problem}").format(
            tenant=tenant.label, problem=tenant.problem))
    if tenant.paused:
        raise AirflowSkipException(_("Tenant {tenant} is paused in the registry.").format(tenant=tenant.label))
    return tenant


def _folder(dag_id: str, tenant: Tenant) -> Any:
    from oh_outlook_provider.runners import appointments as snapshots

    return snapshots.base_path() / dag_id / tenant.key


def _mapping(graph: Any, openhandwerk: Any, tenant: Tenant, folder: Any) -> dict[str, Any]:
    """The tenant's user mapping (the operator's result shape), made again only when openHandwerk's
    employees changed or the last one is older than a day: the steady state reads no Graph users."""
    from oh_outlook_provider.runners.user_mapping import mapping_output, mapping_table, run_user_mapping
    from oh_outlook_provider.sync.mapping import MATCHED
    from oh_outlook_provider.sync.models import Rejected

    records = list(openhandwerk.iter_employees())
    employees = [r for r in records if not isinstance(r, Rejected)]
    digest = fleet.employees_digest(employees)
    cache = folder / "mapping.json"
    cached = json.loads(cache.read_text()) if cache.exists() else None
    if fleet.mapping_reusable(cached, digest, time.time(), MAPPING_MAX_AGE):
        log.info(_("User mapping of %s stands (openHandwerk's employees unchanged): %s"), tenant.label,
                 cached["mapping"]["counts"])
        return cached["mapping"]

    class Employees:  # the records already read, for run_user_mapping's source
        @staticmethod
        def iter_employees() -> Any:
            return iter(records)

    result, rejected = run_user_mapping(graph, Employees(), dict(tenant.overrides), True, 8)
    log.info("%s\n%s", _("User mapping:"), mapping_table(result, rejected))
    if result.entries and not any(e.outcome == MATCHED for e in result.entries):
        raise AirflowFailException(_("Tenant {tenant}: none of {count} employees could be matched to a Microsoft 365 "
                                     "mailbox ({counts}).").format(tenant=tenant.label, count=len(result.entries),
                                                                   counts=result.counts()))
    out = mapping_output(result, rejected)
    folder.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"digest": digest, "made_at": time.time(), "mapping": out}))
    return out


def prepare(tenant: Tenant, context: Mapping[str, Any], graph: Any = None, openhandwerk: Any = None) -> dict[str, Any]:
    """One tenant's run up to the writes: its credential (a token), its user mapping, its one
    openHandwerk read into a snapshot file, its shards; `graph`, `openhandwerk`: the task's hooks
    (None: new ones for the tenant's connections). Pushes ``{"tenant", "mapping",
    "appointments", "shards"}`` under XCom key `PREPARED` (read by the tenant's own tasks only) and
    the plan ``{"tenant", "label", "prepare_index", "shards"}`` under key `PLAN`; returns the former."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
    from oh_outlook_provider.runners import appointments as snapshots
    from oh_outlook_provider.runners.log_lines import rejected_lines

    ti = context["ti"]
    try:
        graph = graph or Office365Hook(tenant.office365_conn_id)
        openhandwerk = openhandwerk or OpenHandwerkHook(tenant.openhandwerk_conn_id)
        graph.get_token()  # a wrong or expired secret, an unknown tenant: fails here, with the fix
        folder = _folder(ti.dag_id, tenant)
        mapping = _mapping(graph, openhandwerk, tenant, folder)
        window = window_of(context, None, None, tenant.past_days, tenant.future_days)
        path = snapshots.run_path(folder.parent, tenant.key, str(context.get("run_id") or "manual"))
        descriptor = snapshots.write(path, window, openhandwerk.iter_appointments(window.start, window.end))
        snapshots.prune(path.parent, KEEP_FOR, keep=path)
    except OhOutlookError as exc:
        raise task_failure(exc) from None
    if descriptor["rejected_total"]:
        log.warning("%s\n%s", _("{count} openHandwerk record(s) rejected (each left out, the others synced):")
                    .format(count=descriptor["rejected_total"]), "\n".join(rejected_lines(descriptor["rejected"])))
    mailboxes = [m["user_id"] for m in mapping["mapping"].values()]
    shards = fleet.plan_shards(mailboxes, tenant.mailboxes_per_shard)
    log.info(_("%s: %d appointments, %d mailboxes in %d shard(s)"), tenant.label, descriptor["appointments"],
             len(set(mailboxes)), len(shards))
    prepared = {"tenant": tenant.to_dict(), "mapping": mapping, "appointments": descriptor, "shards": shards}
    if len(shards) > 1:  # only a large tenant's further shards read it: the metadata DB carries no more
        ti.xcom_push(key=PREPARED, value=prepared)
    ti.xcom_push(key=PLAN, value={"tenant": tenant.key, "label": tenant.label, "prepare_index": ti.map_index,
                                  "shards": len(shards)})
    return prepared


def sync_shard(prepared: Mapping[str, Any], number: int, context: Mapping[str, Any], graph: Any = None,
               openhandwerk: Any = None) -> dict[str, Any]:
    """Shard `number` (from 1) of a prepared tenant: the engine over its mailboxes, on the tenant's
    snapshot; the hooks as for `prepare` (the tenant task passes its own: one token and one
    connection lookup each a task). Returns
    its `SyncReport`; fails (after all its other mailboxes) when a mailbox failed."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
    from oh_outlook_provider.runners.appointments import Snapshot
    from oh_outlook_provider.runners.calendar_sync import CalendarSync
    from oh_outlook_provider.runners.report import every_mailbox_refused, failed_mailboxes, summary_table

    tenant = Tenant.from_dict(prepared["tenant"])
    mailboxes = prepared["shards"][number - 1]
    if not mailboxes:  # a tenant without a mapped mailbox: nothing to write, its report still comes
        return {"totals": {}, "failed": {}, "window": prepared["appointments"]["window"],
                "appointments": prepared["appointments"]["appointments"]}
    try:
        graph = graph or Office365Hook(tenant.office365_conn_id)
        openhandwerk = openhandwerk or OpenHandwerkHook(tenant.openhandwerk_conn_id)
        snapshot = Snapshot.of(prepared["appointments"])
        options = sync_options(graph, openhandwerk, snapshot.window, arguments_of(prepared["tenant"]),
                               str(context.get("run_id") or "manual"), mailboxes)
        summary = CalendarSync(graph, openhandwerk, prepared["mapping"]["mapping"], options,
                               snapshot.appointments).run()
    except OhOutlookError as exc:
        raise task_failure(exc) from None
    log.info("%s\n%s", _("Calendar sync:"), summary_table(summary))
    refused = every_mailbox_refused(summary)
    if refused is not None:  # the tenant is not synced
        raise AirflowFailException(_("Tenant {tenant}: every mailbox was refused, first: {error}").format(
            tenant=tenant.label, error=refused))
    if summary["failed"]:
        context["ti"].xcom_push(key="summary", value=summary)
        raise AirflowFailException(_("Tenant {tenant}: {count} mailbox(es) failed after all others were synced: "
                                     "{errors}").format(
            tenant=tenant.label, count=len(summary["failed"]),
            errors=failed_mailboxes(summary)))
    return summary


def announce(tenant: Tenant, summaries: list[Mapping[str, Any]], context: Mapping[str, Any], alias: Any,
             rejected_on_reading: int = 0) -> dict:
    """The tenant's totals over its shards, logged, and the asset event of its openHandwerk account
    (through the DAG's asset alias: the tenants are known at run time, not at parse time).
    `rejected_on_reading`: the records its one openHandwerk read rejected (the snapshot the shards
    sync leaves them out, so no shard counts them): counted here, once, as the single DAG's report does."""
    from oh_outlook_provider.assets import calendars_asset

    totals = fleet.add_totals(summaries)
    if rejected_on_reading:
        totals["rejected"] = totals.get("rejected", 0) + int(rejected_on_reading)
    log.info(_("Tenant %s: %s"), tenant.label, ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
    events = context.get("outlet_events")
    if events is not None:
        first = summaries[0]
        events[alias].add(calendars_asset(tenant.openhandwerk_conn_id),
                          extra={"tenant": tenant.key, "totals": totals, "window": first.get("window"),
                                 "appointments": first.get("appointments")})
    return totals


def run_tenant(data: Mapping[str, Any], context: Mapping[str, Any], alias: Any) -> dict[str, Any]:
    """A tenant's task: prepare, then its first shard; a tenant of one shard (most) is done here,
    report and asset event included, in one task start. Returns ``{"tenant", "totals", "summary"}``,
    the shard's whole report only for a large tenant (its report task adds it up; XCom stays small)."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook

    tenant = usable(data)
    # One hook each for both steps: one msal app and token, one connection lookup per service.
    hooks = Office365Hook(tenant.office365_conn_id), OpenHandwerkHook(tenant.openhandwerk_conn_id)
    with speaking(tenant.language):
        prepared = prepare(tenant, context, *hooks)
        summary = sync_shard(prepared, 1, context, *hooks)
        if len(prepared["shards"]) == 1:
            return {"tenant": tenant.key, "summary": None,
                    "totals": announce(tenant, [summary], context, alias, prepared["appointments"]["rejected_total"])}
    return {"tenant": tenant.key, "totals": summary["totals"], "summary": summary}


def sync(shard: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """One more shard (2, 3, ...) of a large tenant, on the preparation its tenant task pushed."""
    ti = context["ti"]
    prepared = ti.xcom_pull(task_ids=TENANT_TASK, key=PREPARED, map_indexes=shard["prepare_index"])
    if not prepared or prepared["tenant"]["key"] != shard["tenant"]:  # never another tenant's data
        raise AirflowFailException(_("Shard {shard} of {tenant}: its tenant's preparation is missing; clear the "
                                     "tenant's task together with this one.").format(shard=shard["shard"],
                                                                                     tenant=shard["label"]))
    tenant = Tenant.from_dict(prepared["tenant"])
    with speaking(tenant.language):
        return {**sync_shard(prepared, shard["shard"], context), "tenant": tenant.key, "shard": shard["shard"]}


def report(plan: Mapping[str, Any], context: Mapping[str, Any], alias: Any) -> dict[str, int]:
    """A tenant of several shards: totals over the first (its tenant task) and the others (the sync
    tasks), and its asset event; fails naming the shards that failed."""
    ti = context["ti"]
    prepared = ti.xcom_pull(task_ids=TENANT_TASK, key=PREPARED, map_indexes=plan["prepare_index"])
    tenant = Tenant.from_dict(prepared["tenant"])
    shards = ti.xcom_pull(task_ids="plan") or []
    indexes = fleet.sync_indexes(shards, tenant.key)
    first = ti.xcom_pull(task_ids=TENANT_TASK, map_indexes=plan["prepare_index"])
    summaries = [first["summary"] if first else None] + [ti.xcom_pull(task_ids="sync", map_indexes=i) for i in indexes]
    with speaking(tenant.language):
        missing = [n for n, s in enumerate(summaries, start=1) if not s]
        if missing:
            raise AirflowFailException(_("Tenant {tenant}: shard(s) {shards} failed; see their sync tasks.").format(
                tenant=tenant.label, shards=", ".join(map(str, missing))))
        return announce(tenant, summaries, context, alias, prepared.get("appointments", {}).get("rejected_total", 0))


def pulled_all(ti: Any, task_id: str, key: str = "return_value") -> list[Any]:
    """Every map index's XCom of a mapped task in **one** request to Airflow (a task instance that
    pushed none is left out, so each value names its tenant). Airflow hands back a lone value bare
    and none as None (the task SDK's `xcom_pull` without `map_indexes`, 3.0 to 3.3)."""
    values = ti.xcom_pull(task_ids=task_id, key=key)
    if values is None:
        return []
    if isinstance(values, Mapping):
        return [values]
    return [value for value in values if value is not None]


def plan_shards(context: Mapping[str, Any], max_map_length: int) -> list[dict[str, Any]]:
    """The run's further shards of large tenants (their first shard ran in their tenant task), from
    the tenants' plans; `ConfigurationError` past Airflow's ``[core] max_map_length``."""
    from oh_outlook_provider.runners.tenants import check_map_length

    shards = fleet.fleet_shards(pulled_all(context["ti"], TENANT_TASK, PLAN), first=2)
    check_map_length(len(shards), max_map_length)
    return shards


def large_tenants(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plans of the tenants of several shards (each gets a report over all of them)."""
    return sorted((p for p in pulled_all(context["ti"], TENANT_TASK, PLAN) if p["shards"] > 1),
                  key=lambda p: p["prepare_index"])


def outcome(registry: list[Mapping[str, Any]], context: Mapping[str, Any]) -> dict[str, Any]:
    """The run's verdict (its last task, so the run shows failed when a tenant failed): the tenants
    not synced in full, by name. A tenant counts as synced when its task returned and every other
    shard of it did; paused tenants are left out. Three XCom requests whatever the fleet's size."""
    ti = context["ti"]
    shards = ti.xcom_pull(task_ids="plan") or []
    tenants_done = {result["tenant"] for result in pulled_all(ti, TENANT_TASK)}
    shards_done = {(result["tenant"], result["shard"]) for result in pulled_all(ti, "sync")}
    failed, synced, paused = [], 0, 0
    for data in registry:
        tenant = Tenant.from_dict(data)
        if tenant.paused and not tenant.problem:
            paused += 1
            continue
        if tenant.key in tenants_done and all((tenant.key, shards[i]["shard"]) in shards_done
                                              for i in fleet.sync_indexes(shards, tenant.key)):
            synced += 1
        else:
            failed.append(tenant.label)
    log.info(_("Fleet: %d tenant(s) synced, %d paused, %d failed"), synced, paused, len(failed))
    if failed:
        raise AirflowFailException(_("{count} of {total} tenant(s) not synced: {names}. Each one's own task names "
                                     "the reason.").format(count=len(failed), total=len(registry),
                                                           names=", ".join(failed)))
    return {"synced": synced, "paused": paused}


def credential(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """One tenant's credential: days left and where the date comes from (Entra or the connection).
    Pushes the row for the fleet's table, then fails (an alert, named by the tenant) when the
    credential is valid for fewer than the tenant's `min_valid_days`."""
    from oh_outlook_provider.runners.secret_expiry import check_credential

    tenant = usable(data)
    with speaking(tenant.language):
        result = check_credential(tenant.office365_conn_id, dt.timedelta(days=tenant.min_valid_days), True)
        row = {"label": tenant.label, "connection": tenant.office365_conn_id, "days_left": result.days_left,
               "source": result.source, "ok": result.ok, "message": result.message}
        context["ti"].xcom_push(key="row", value=row)
        if not result.ok:
            raise AirflowFailException(_("Tenant {tenant}: {message}").format(tenant=tenant.label,
                                                                             message=result.message))
        log.info("%s", result.message)
    return row
