"""Many businesses, one DAG: every tenant of the registry (Variable `oh_outlook_tenants`) synced every
15 minutes, each in its own mapped tasks (named by the tenant in the UI), each failing alone."""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import DAG, AssetAlias, get_current_context, task

from oh_outlook_provider.i18n import _
from oh_outlook_provider.version_compat import CronTriggerTimetable

GRAPH_POOL = "oh_outlook_graph"  # caps concurrent Graph tasks: `airflow pools set oh_outlook_graph 4 "..."`
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("OH_OUTLOOK_RETRY_DELAY_SECONDS", 120)))
# One asset per openHandwerk connection (`calendars_asset(conn_id)`), emitted through this alias: the
# tenants are known when the run starts, not when the file is parsed.
CALENDARS = AssetAlias("oh_outlook_fleet_calendars")

with DAG(
    dag_id="oh_outlook_fleet_sync",
    description=_("Every 15 min (Europe/Berlin): every business of the tenant registry, each in its own tasks"),
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    max_active_runs=1,
    tags=["openhandwerk", "outlook", "fleet"],
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    doc_md=_("""
### openHandwerk -> Outlook for many businesses
The tenants come from the Airflow Variable `oh_outlook_tenants` (a JSON list; see the README's
fleet section), read when a run starts: a tenant added, paused or removed there counts from the
next run, without a file change.

1. **tenants** reads and checks the registry; a wrong entry fails its own tenant's task.
2. **tenant** (one per tenant, named by it) checks the credential, maps the employees, reads the
   tenant's appointments from openHandwerk once and writes the calendars of its first shard of
   mailboxes (most tenants have one: then it also logs the totals and updates the asset of the
   tenant's openHandwerk connection); pool `oh_outlook_graph`.
3. **sync** (one per further shard of a large tenant) and **report** (one per large tenant).
4. **outcome** fails the run naming the tenants not synced. A tenant that fails (wrong secret,
   missing permission, openHandwerk down) fails alone: every other tenant's tasks run on.
"""),
) as dag:

    @task
    def tenants() -> list[dict]:
        """The registry's tenants, in order (wrong and paused ones too: their own tasks say so)."""
        from oh_outlook_provider.operators import fleet

        return fleet.registry()

    @task(multiple_outputs=False, map_index_template="{{ tenant_label }}", pool=GRAPH_POOL, outlets=[CALENDARS])
    def tenant(tenant: dict) -> dict:
        """One business: credential, mapping, its one openHandwerk read, its first (mostly only) shard."""
        from oh_outlook_provider.operators import fleet
        from oh_outlook_provider.runners.tenants import Tenant

        context = get_current_context()
        context["tenant_label"] = Tenant.from_dict(tenant).label  # type: ignore[typeddict-unknown-key]
        return fleet.run_tenant(tenant, context, CALENDARS)

    @task(trigger_rule="all_done")
    def plan() -> list[dict]:
        """The further shards of large tenants (their first shard ran in their tenant task)."""
        from airflow.configuration import conf

        from oh_outlook_provider.operators import fleet

        return fleet.plan_shards(get_current_context(), conf.getint("core", "max_map_length", fallback=1024))

    @task(trigger_rule="all_done")
    def large() -> list[dict]:
        """The tenants of several shards: each gets a report over all of them."""
        from oh_outlook_provider.operators import fleet

        return fleet.large_tenants(get_current_context())

    @task(multiple_outputs=False, map_index_template="{{ shard_label }}", pool=GRAPH_POOL)
    def sync(shard: dict) -> dict:
        from oh_outlook_provider.operators import fleet
        from oh_outlook_provider.runners.fleet import shard_label

        context = get_current_context()
        context["shard_label"] = shard_label(shard)  # type: ignore[typeddict-unknown-key]
        return fleet.sync(shard, context)

    @task(multiple_outputs=False, map_index_template="{{ tenant_label }}", trigger_rule="all_done", outlets=[CALENDARS])
    def report(large: dict) -> dict:
        """A large tenant's totals over all its shards, and its asset event."""
        from oh_outlook_provider.operators import fleet

        context = get_current_context()
        context["tenant_label"] = large["label"]  # type: ignore[typeddict-unknown-key]
        return fleet.report(large, context, CALENDARS)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def outcome(registry: list) -> dict:
        """Fails the run, naming the tenants that were not synced; the others are untouched by it."""
        from oh_outlook_provider.operators import fleet

        return fleet.outcome(registry, get_current_context())

    registry = tenants()
    tenant_tasks = tenant.expand(tenant=registry)
    planned, larger = plan(), large()
    tenant_tasks >> [planned, larger]
    further = sync.expand(shard=planned)
    reports = report.expand(large=larger)
    further >> reports >> outcome(registry)
