"""Backfill: one run per day with a real data interval; each run syncs the appointments starting that day."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from oh_outlook_provider.assets import calendars_asset
from oh_outlook_provider.i18n import _
from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator
from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
from oh_outlook_provider.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="oh_outlook_calendar_backfill",
    description=_("One run per Berlin day (00:00 Europe/Berlin): that day's openHandwerk appointments into Outlook"),
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2025, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    max_active_runs=4,
    tags=["openhandwerk", "outlook", "backfill"],
    params={"dry_run": Param(False, type="boolean", description=_("Plan and report, write nothing"))},
    doc_md=_("""
### openHandwerk -> Outlook: backfill of historical appointments
Each run covers one Berlin day (its data interval, 00:00 to 00:00) and syncs exactly the
appointments that start in it. Runs are independent and may run in parallel:

    airflow backfill create --dag-id oh_outlook_calendar_backfill --from-date 2026-01-01 --to-date 2026-03-31

Rerunning a day is safe: events are matched by their tags, never duplicated.
"""),
) as dag:
    map_users = Office365UserMappingOperator(task_id="map_users", verify_mailboxes=False)
    Office365CalendarSyncOperator(
        task_id="sync_day",
        mapping=map_users.output,
        dry_run="{{ params.dry_run }}",
        pool="oh_outlook_graph",
        outlets=[calendars_asset()],  # each day's run tells downstream DAGs, with its counts
    )
