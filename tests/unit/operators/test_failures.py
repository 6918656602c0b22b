"""How our errors end a task: a permanent one fails it at once, any other may be retried."""

from __future__ import annotations

import pytest

from oh_outlook_provider.exceptions import ConfigurationError, GraphError, OpenHandwerkError, ThrottledError
from oh_outlook_provider.operators.failures import task_failure
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException


@pytest.mark.parametrize("error", [ConfigurationError("bad map_url"), GraphError("refused", 403),
                                   OpenHandwerkError("wrong password", 401)])
def test_a_permanent_error_fails_the_task_without_retries(error):
    failure = task_failure(error)
    assert type(failure) is AirflowFailException and str(failure) == str(error)


@pytest.mark.parametrize("error", [GraphError("down", 503), ThrottledError("throttled", 429),
                                   OpenHandwerkError("down", 502), OpenHandwerkError("no answer")])
def test_a_passing_error_leaves_the_retry_to_airflow(error):
    failure = task_failure(error)
    assert type(failure) is AirflowException and not isinstance(failure, AirflowFailException)
    assert str(failure) == str(error)
