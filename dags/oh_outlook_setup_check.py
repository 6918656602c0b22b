"""Run by hand: walks openHandwerk's Entra setup guide step by step and says which step is missing."""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import DAG, Param, task

from oh_outlook_provider.i18n import _

log = logging.getLogger(__name__)

with DAG(
    dag_id="oh_outlook_setup_check",
    description=_("Manual: checks every step of the Entra setup guide and the openHandwerk connection"),
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),
    catchup=False,
    tags=["openhandwerk", "outlook", "setup"],
    params={
        "office365_conn_id": Param("office365_default", type="string", description=_("Office 365 connection to check")),
        "openhandwerk_conn_id": Param("openhandwerk_default", type="string",
                                      description=_("openHandwerk connection to check")),
    },
    doc_md=_("""
### Setup check (run this first for a new tenant)
Walks openHandwerk's guide "Office-365-Kalender synchronisieren" line by line: tenant ID, the app
registration *openHandwerk-Cloud*, the client secret's VALUE and expiry, the application permissions
User.Read.All and Calendars.ReadWrite as the access token carries them, admin consent, users and a
mailbox reachable, the optional permissions; then the openHandwerk connection. Each task log shows a
numbered table: OK, FAILED (with the fix and the guide's step), WARNING, OPTIONAL or NOT CHECKED.
A task fails when a required step failed. The connection's *Test* button runs the same checks.
Language: `[oh_outlook] language` (de or en).
"""),
) as dag:

    @task(multiple_outputs=False, task_id="office365")
    def office365(params: dict | None = None) -> dict[str, str]:
        # Imports inside the task: parse cost (msal, requests) only when the check runs.
        from oh_outlook_provider.hooks.office365 import Office365Hook
        from oh_outlook_provider.runners.checklist import log_checklist
        from oh_outlook_provider.runners.setup_check import office365_checklist

        return log_checklist(office365_checklist(Office365Hook((params or {}).get("office365_conn_id",
                                                                                  "office365_default"))), log)

    @task(multiple_outputs=False, task_id="openhandwerk")
    def openhandwerk(params: dict | None = None) -> dict[str, str]:
        from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
        from oh_outlook_provider.runners.checklist import log_checklist
        from oh_outlook_provider.runners.openhandwerk_check import openhandwerk_checklist

        return log_checklist(openhandwerk_checklist(OpenHandwerkHook((params or {}).get("openhandwerk_conn_id",
                                                                                        "openhandwerk_default"))), log)

    office365()
    openhandwerk()
