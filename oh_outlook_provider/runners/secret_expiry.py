"""One check of the Entra credential, shared by the sensor (poke) and its trigger (triggerer).

Imports run one way, as in Airflow's msgraph package: sensor -> trigger -> this module -> hook.
The hook (msal, requests) is imported when a check runs, so DAG files that use the sensor stay
light to parse; that import is no cycle, nothing below imports back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pendulum

from oh_outlook_provider.exceptions import ConfigurationError, OhOutlookError, SecretExpiredError
from oh_outlook_provider.graph.credentials import ADMIN_ZONE, Assessment, assess
from oh_outlook_provider.hooks.settings import office365_settings


def check_credential(conn_id: str, min_valid_for: dt.timedelta, check_token: bool,
                     today: dt.date | None = None, connection: Any = None) -> Assessment:
    """Read the connection afresh (a rotation must be seen) and assess it."""
    from oh_outlook_provider.hooks.office365 import Office365Hook  # msal and requests: only when checking

    try:
        hook = Office365Hook(conn_id, settings=office365_settings(connection) if connection is not None else None)
        valid_until = hook.credential_valid_until()
        kind = hook.settings.credential_kind
    except ConfigurationError as exc:
        return Assessment(False, None, str(exc))
    token_error, expired, note = None, False, None
    source = "the connection" if valid_until else None
    if check_token:
        try:
            hook.get_token()
            expiry = hook.watched_expiry()  # Entra's own date, when the app may read it
            valid_until, note, source = expiry.valid_until, expiry.note, expiry.source
        except SecretExpiredError:
            expired = True
        except OhOutlookError as exc:
            token_error = str(exc)
    today = today or pendulum.today(ADMIN_ZONE).date()
    result = assess(valid_until, today, min_valid_for, conn_id, "certificate" if kind == "certificate" else
                    "client secret", token_error, expired)
    return replace(result, note=note or result.note, source=source if valid_until else None)
