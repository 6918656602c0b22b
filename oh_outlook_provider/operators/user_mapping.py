"""Office365UserMappingOperator: which openHandwerk employee gets which Outlook calendar."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from oh_outlook_provider.exceptions import ConfigurationError, OhOutlookError
from oh_outlook_provider.operators.failures import task_failure
from oh_outlook_provider.sync.mapping import MATCHED
from oh_outlook_provider.version_compat import AirflowFailException


def resolve_overrides(value: Any) -> dict[str, str]:
    """Overrides as a dict, JSON text, or the name of an Airflow Variable holding JSON."""
    if value in (None, "", {}):
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value).strip()
    if text.startswith("{"):
        try:
            return resolve_overrides(json.loads(text))
        except ValueError as exc:
            raise ConfigurationError(f"overrides are not valid JSON: {exc}") from None
    from airflow.sdk import Variable

    loaded = Variable.get(text, deserialize_json=True)
    if not isinstance(loaded, Mapping):
        raise ConfigurationError(f"Variable '{text}' must hold a JSON object of employee -> user.")
    return resolve_overrides(loaded)


class Office365UserMappingOperator(BaseOperator):
    """Maps openHandwerk employees to Microsoft 365 users by e-mail and returns the mapping.

    :param office365_conn_id: connection of type ``office365`` (the Entra app registration).
    :param openhandwerk_conn_id: connection of type ``openhandwerk``.
    :param overrides: employee id or e-mail -> user id or UPN; a dict, JSON, or a Variable name. (templated)
    :param verify_mailboxes: probe each matched mailbox once (licence, mailbox, access policy).
    :param max_workers: mailboxes probed at once.
    """

    template_fields: Sequence[str] = ("overrides",)
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        office365_conn_id: str = "office365_default",
        openhandwerk_conn_id: str = "openhandwerk_default",
        overrides: Any = None,
        verify_mailboxes: bool = True,
        max_workers: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.office365_conn_id = office365_conn_id
        self.openhandwerk_conn_id = openhandwerk_conn_id
        self.overrides = overrides
        self.verify_mailboxes = verify_mailboxes
        self.max_workers = max_workers

    def execute(self, context: Any) -> dict:
        from oh_outlook_provider.hooks.office365 import Office365Hook
        from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
        from oh_outlook_provider.runners.user_mapping import mapping_output, mapping_table, run_user_mapping

        try:
            result, rejected = run_user_mapping(
                Office365Hook(self.office365_conn_id),
                OpenHandwerkHook(self.openhandwerk_conn_id),
                resolve_overrides(self.overrides),
                self.verify_mailboxes,
                self.max_workers,
            )
        except OhOutlookError as exc:  # a throttled or unavailable service is retried by Airflow
            raise task_failure(exc) from None
        self.log.info("User mapping:\n%s", mapping_table(result, rejected))
        if result.entries and not any(e.outcome == MATCHED for e in result.entries):
            raise AirflowFailException(
                f"None of {len(result.entries)} employees could be matched to a Microsoft 365 mailbox "
                f"({result.counts()}). This almost always means a wrong Tenant ID (Mandanten-ID), missing admin "
                "consent for Calendars.ReadWrite, or an access policy that blocks every mailbox."
            )
        return mapping_output(result, rejected)
