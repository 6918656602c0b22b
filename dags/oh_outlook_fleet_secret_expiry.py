"""Daily check of every tenant's Entra credential: one table, one alert (a failed task named by the
tenant) for each below its threshold; no sensor, so no triggerer slot per tenant."""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import DAG, get_current_context, task

from oh_outlook_provider.i18n import _
from oh_outlook_provider.version_compat import CronTriggerTimetable

with DAG(
    dag_id="oh_outlook_fleet_secret_expiry",
    description=_("Daily 07:00 Europe/Berlin: every tenant's client secret or certificate, days left, alerts"),
    schedule=CronTriggerTimetable("0 7 * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    max_active_runs=1,
    tags=["openhandwerk", "outlook", "security", "fleet"],
    doc_md=_("""
### Credential expiry of every tenant
For each tenant of the registry (Variable `oh_outlook_tenants`): how many days its client secret
or certificate stays valid, from Entra where the app may read its registration, else from the
date typed into the connection. **check** fails for each tenant below its `min_valid_days`
(default 30): Airflow's alerting reports it, with the tenant in the task's name and the rotation
steps in its log. **table** lists every tenant, fewest days first.
"""),
) as dag:

    @task
    def tenants() -> list[dict]:
        """The registry's tenants, in order (wrong and paused ones too: their own tasks say so)."""
        from oh_outlook_provider.operators import fleet

        return fleet.registry()

    @task(multiple_outputs=False, map_index_template="{{ tenant_label }}", retries=0)
    def check(tenant: dict) -> dict:
        from oh_outlook_provider.operators import fleet
        from oh_outlook_provider.runners.tenants import Tenant

        context = get_current_context()
        context["tenant_label"] = Tenant.from_dict(tenant).label  # type: ignore[typeddict-unknown-key]
        return fleet.credential(tenant, context)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def table(registry: list) -> dict:
        """Every tenant's row (those that alerted too: their rows are pushed before they fail)."""
        from oh_outlook_provider.runners.fleet import expiry_table

        ti = get_current_context()["ti"]
        rows = [ti.xcom_pull(task_ids="check", key="row", map_indexes=index) for index in range(len(registry))]
        rows = [row for row in rows if row]
        logging.getLogger("airflow.task").info("%s\n%s", _("Credentials of the fleet:"), expiry_table(rows))
        return {"tenants": len(rows), "alerts": sum(1 for row in rows if not row["ok"])}

    registry = tenants()
    check.expand(tenant=registry) >> table(registry)
