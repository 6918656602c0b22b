"""How our errors end an Airflow task: a permanent one fails it at once, any other may be retried."""

from __future__ import annotations

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException


def task_failure(exc: OhOutlookError) -> AirflowException:
    """The exception to raise (`from None`: the message already names the cause and the fix)."""
    return AirflowFailException(str(exc)) if exc.permanent else AirflowException(str(exc))
