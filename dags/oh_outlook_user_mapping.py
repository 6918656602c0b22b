"""Daily report: which openHandwerk employee is mapped to which Microsoft 365 mailbox, and why not."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from oh_outlook_provider.i18n import _
from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
from oh_outlook_provider.version_compat import CronTriggerTimetable

with DAG(
    dag_id="oh_outlook_user_mapping",
    description=_("Daily 06:00 Europe/Berlin: openHandwerk employees matched to Microsoft 365 mailboxes"),
    schedule=CronTriggerTimetable("0 6 * * *", timezone="Europe/Berlin"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    tags=["openhandwerk", "outlook"],
    params={
        "overrides": Param({}, type="object",
                           description=_("employee id or e-mail -> Microsoft 365 user id or UPN")),
        "verify_mailboxes": Param(True, type="boolean", description=_("Probe each matched mailbox")),
    },
    render_template_as_native_obj=True,
    doc_md=_("""
### Employee -> Microsoft 365 user mapping
Matches openHandwerk employees to users by e-mail (mail, UPN, aliases, otherMails; case does not
matter) and logs a table with every employee's outcome: matched, no Exchange licence, account
disabled, ambiguous address, no user, no e-mail, no mailbox, blocked by access policy.
Overrides (param or Airflow Variable) fix the cases e-mail cannot.

New tenant, or every employee unmapped? Run [oh_outlook_setup_check](/dags/oh_outlook_setup_check) first:
it checks the Entra setup guide step by step and names the missing step.
"""),
) as dag:
    Office365UserMappingOperator(
        task_id="map_users",
        overrides="{{ params.overrides }}",
        verify_mailboxes=True,
    )
