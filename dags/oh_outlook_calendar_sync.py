"""Rolling sync every 15 minutes: secret check -> user mapping -> calendar sync per mailbox shard -> report."""

from __future__ import annotations

import datetime as dt
import logging
import os

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task

from oh_outlook_provider.assets import announce, calendars_asset
from oh_outlook_provider.i18n import _
from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator, rejected_report
from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator
from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor
from oh_outlook_provider.version_compat import CronTriggerTimetable

GRAPH_POOL = "oh_outlook_graph"  # caps concurrent Graph tasks: `airflow pools set oh_outlook_graph 4 "..."`
# How long a run waits for the admin to rotate an expired secret before it fails (and alerts).
SECRET_WAIT = int(os.environ.get("OH_OUTLOOK_SECRET_WAIT_SECONDS", 6 * 3600))
SECRET_POKE = int(os.environ.get("OH_OUTLOOK_SECRET_POKE_SECONDS", 300))
# Pause before a failed task's retry (a shard whose worker died is retried after it).
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("OH_OUTLOOK_RETRY_DELAY_SECONDS", 120)))
CALENDARS = calendars_asset()  # what downstream DAGs schedule on: schedule=[calendars_asset()]

with DAG(
    dag_id="oh_outlook_calendar_sync",
    description=_("Every 15 min (Europe/Berlin): openHandwerk appointments into the mapped Outlook calendars"),
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    max_active_runs=1,
    tags=["openhandwerk", "outlook"],
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    params={
        "past_days": Param(7, type="integer", minimum=0, maximum=365, description=_("Days back from now")),
        "future_days": Param(90, type="integer", minimum=1, maximum=730, description=_("Days ahead of now")),
        "shards": Param(4, type="integer", minimum=1, maximum=64, description=_("Parallel sync tasks")),
        "on_outlook_edit": Param("overwrite", enum=["overwrite", "keep", "fail"],
                                 description=_("What to do with events edited in Outlook")),
        "dry_run": Param(False, type="boolean", description=_("Plan and report, write nothing")),
    },
    doc_md=_("""
### openHandwerk -> Outlook: rolling calendar sync
Every 15 minutes, the appointments starting between *now - past_days* and *now + future_days*
are written into the Outlook calendars of the mapped employees.

1. **secret_valid** waits (reschedule mode) while the client secret is expired; after the
   admin pastes a new secret into connection `office365_default`, it passes on its own.
2. **map_users** matches employees to Microsoft 365 users by e-mail and probes mailboxes;
   **read_appointments** reads the window from openHandwerk once for the whole run (a file in
   object storage, `OH_OUTLOOK_SNAPSHOT_BASE`) and lists the records it had to reject.
3. **sync_calendars** runs once per mailbox shard (dynamic task mapping) on that one read; pool
   `oh_outlook_graph` caps concurrent Graph tasks.
4. **report** logs the totals and the rejected records, once per run, and updates the asset
   `oh_outlook_calendars__openhandwerk_default` (its event carries the counts), so other DAGs can
   run on "calendars updated". Reruns are safe: nothing is duplicated.
"""),
) as dag:
    secret_valid = Office365SecretExpirySensor(
        task_id="secret_valid",
        min_valid_for=dt.timedelta(0),
        mode="reschedule",
        poke_interval=SECRET_POKE,
        timeout=SECRET_WAIT,
    )
    map_users = Office365UserMappingOperator(task_id="map_users")
    read = OpenHandwerkAppointmentsOperator(task_id="read_appointments", past="{{ params.past_days }}",
                                            future="{{ params.future_days }}")

    @task
    def plan_shards(mapping: dict, shards: int) -> list[list[str]]:
        """Split the mapped mailboxes into shards so several workers share a large tenant."""
        mailboxes = sorted({m["user_id"] for m in mapping["mapping"].values()})
        count = max(1, min(int(shards), len(mailboxes)))
        return [mailboxes[i::count] for i in range(count)] if mailboxes else [[]]

    shards = plan_shards(map_users.output, "{{ params.shards }}")
    sync = Office365CalendarSyncOperator.partial(
        task_id="sync_calendars",
        mapping=map_users.output,
        appointments=read.output,
        on_outlook_edit="{{ params.on_outlook_edit }}",
        dry_run="{{ params.dry_run }}",
        pool=GRAPH_POOL,
    ).expand(mailboxes=shards)

    @task(multiple_outputs=False, outlets=[CALENDARS])
    def report(summaries: list, appointments: dict) -> dict:
        """Totals over all shards plus the run's one read, for the log and for XCom (a failed shard
        fails the run before this). Records rejected on reading are counted here, once."""
        totals: dict[str, int] = {"rejected": appointments["rejected_total"]}
        for summary in summaries or []:
            for name, n in (summary or {}).get("totals", {}).items():
                totals[name] = totals.get(name, 0) + n
        # Logged, not printed: printed lines reach the log view only after the task body, inside the
        # collapsed "Post Execute" group, where nobody looks for the totals.
        log = logging.getLogger("airflow.task")
        log.info("Calendar sync of %d appointments: %s", appointments["appointments"],
                 ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))
        if appointments["rejected_total"]:
            log.warning("Rejected on reading openHandwerk:\n%s", "\n".join(rejected_report(appointments)))
        announce(get_current_context(), [CALENDARS], totals, appointments["window"], appointments["appointments"])
        return totals

    secret_valid >> [map_users, read]
    report(sync.output, read.output)
