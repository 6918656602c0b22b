"""Daily check that the Entra client secret stays valid for 30 more days; fails (and alerts) otherwise."""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import DAG

from oh_outlook_provider.i18n import _
from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor
from oh_outlook_provider.version_compat import CronTriggerTimetable

# How often the triggerer looks again while the secret is too close to its expiry (a new secret is
# found within this time after the admin saves it in the connection).
POKE = int(os.environ.get("OH_OUTLOOK_EXPIRY_POKE_SECONDS", 3600))

with DAG(
    dag_id="oh_outlook_secret_expiry",
    description=_("Daily 07:00 Europe/Berlin: warns 30 days before the Entra client secret expires"),
    schedule=CronTriggerTimetable("0 7 * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    tags=["openhandwerk", "outlook", "security"],
    doc_md=_("""
### Client secret expiry watch
The client secret of the app registration lives at most 24 months. This check waits (in the
triggerer, no worker slot held) until the secret is valid for at least 30 more days; if the
admin has not rotated it within the day, the task fails and Airflow's alerting reports it with
the rotation steps.
"""),
) as dag:
    Office365SecretExpirySensor(
        task_id="secret_valid_30_days",
        min_valid_for=dt.timedelta(days=30),
        deferrable=True,
        poke_interval=POKE,
        timeout=23 * 3600,
    )
