"""SecretExpiryTrigger: the deferrable half of the secret-expiry sensor (runs in the triggerer)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.log_lines import wrapped
from oh_outlook_provider.runners.secret_expiry import check_credential
from oh_outlook_provider.version_compat import aget_connection


class SecretExpiryTrigger(BaseTrigger):
    def __init__(self, office365_conn_id: str, min_valid_for_seconds: float, poke_interval: float,
                 timeout_at: str, check_token: bool = True) -> None:
        super().__init__()
        self.office365_conn_id = office365_conn_id
        self.min_valid_for_seconds = min_valid_for_seconds
        self.poke_interval = poke_interval
        self.timeout_at = timeout_at
        self.check_token = check_token

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "oh_outlook_provider.triggers.secret_expiry.SecretExpiryTrigger",
            {"office365_conn_id": self.office365_conn_id, "min_valid_for_seconds": self.min_valid_for_seconds,
             "poke_interval": self.poke_interval, "timeout_at": self.timeout_at, "check_token": self.check_token},
        )

    async def check_once(self) -> Any:
        connection = await aget_connection(self.office365_conn_id)
        return await asyncio.to_thread(
            check_credential, self.office365_conn_id, dt.timedelta(seconds=self.min_valid_for_seconds),
            self.check_token, None, connection,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = dt.datetime.fromisoformat(self.timeout_at)
        while True:
            result = await self.check_once()
            if result.note:
                self.log.warning("%s\n%s", _("Expiry date:"), "\n".join(wrapped(result.note)))
            if result.ok:
                yield TriggerEvent({"status": "ok", "message": result.message, "days_left": result.days_left})
                return
            self.log.warning("%s", result.message)
            if dt.datetime.now(dt.UTC) >= deadline:
                yield TriggerEvent({"status": "timeout", "message": result.message})
                return
            await asyncio.sleep(self.poke_interval)
