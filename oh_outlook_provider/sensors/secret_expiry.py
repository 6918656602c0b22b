"""Office365SecretExpirySensor: waits until the Entra credential stays valid for long enough.

The date comes from Entra when the app may read its own registration (the optional
Application.Read.All), else from the connection or the certificate; a connection date that
disagrees with Entra's is logged as a warning. Waiting, not failing, is the point: once the
admin rotates the secret and updates the connection, the sensor passes on its own; if that
does not happen before the timeout, the task fails and Airflow's alerting reports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator

from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.log_lines import wrapped
from oh_outlook_provider.runners.secret_expiry import check_credential
from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger
from oh_outlook_provider.version_compat import AirflowException


class Office365SecretExpirySensor(BaseSensorOperator):
    """Succeeds when the credential of ``office365_conn_id`` is valid for at least ``min_valid_for``.

    :param office365_conn_id: connection of type ``office365``. (templated)
    :param min_valid_for: how long the credential must stay valid for the sensor to pass.
    :param check_token: also request a token (AADSTS7000222 counts as expired whatever the date says)
        and, when the app may read its own registration (Application.Read.All), watch Entra's date.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    """

    template_fields: Sequence[str] = ("office365_conn_id",)
    ui_color = "#fef3c7"

    def __init__(
        self,
        *,
        office365_conn_id: str = "office365_default",
        min_valid_for: dt.timedelta = dt.timedelta(days=30),
        check_token: bool = True,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 3600)
        super().__init__(**kwargs)
        self.office365_conn_id = office365_conn_id
        self.min_valid_for = min_valid_for
        self.check_token = check_token
        self.deferrable = deferrable

    def poke(self, context: Any) -> bool:
        result = check_credential(self.office365_conn_id, self.min_valid_for, self.check_token)
        if result.note:
            self.log.warning("%s\n%s", _("Expiry date:"), "\n".join(wrapped(result.note)))
        (self.log.info if result.ok else self.log.warning)("%s", result.message)
        return result.ok

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        timeout_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(self.timeout))
        self.defer(
            trigger=SecretExpiryTrigger(
                office365_conn_id=self.office365_conn_id,
                min_valid_for_seconds=self.min_valid_for.total_seconds(),
                poke_interval=float(self.poke_interval),
                timeout_at=timeout_at.isoformat(),
                check_token=self.check_token,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        event = event or {}
        if event.get("status") == "ok":
            self.log.info("%s", event.get("message"))
            return
        raise AirflowException(_("Credential still not valid when the sensor timed out: {message}").format(
            message=event.get("message")))
