"""The exception hierarchy DAG authors catch by name, and which errors a retry could cure."""

from __future__ import annotations

import pytest

from oh_outlook_provider import exceptions as errors


def test_every_exported_error_is_an_oh_outlook_error():
    assert all(issubclass(getattr(errors, name), errors.OhOutlookError) for name in errors.__all__)
    assert issubclass(errors.SecretExpiredError, errors.AuthenticationError)
    for name in ("PermissionMissingError", "MailboxAccessDeniedError", "MailboxNotEnabledError", "NotFoundError",
                 "ThrottledError"):
        assert issubclass(getattr(errors, name), errors.GraphError)


@pytest.mark.parametrize(("status", "permanent"), [(None, True), (400, True), (403, True), (404, True), (408, False),
                                                   (429, False), (500, False), (503, False)])
def test_a_graph_error_is_permanent_unless_the_status_says_try_again(status, permanent):
    error = errors.GraphError("x", status, "Code")
    assert error.permanent is permanent and error.status == status and error.code == "Code"


@pytest.mark.parametrize(("status", "permanent"), [(None, False), (400, True), (401, True), (429, False), (502, False)])
def test_an_openhandwerk_error_without_a_status_may_be_retried(status, permanent):
    assert errors.OpenHandwerkError("x", status).permanent is permanent


def test_the_others_are_permanent_and_carry_what_they_were_given():
    assert errors.ConfigurationError("x").permanent and errors.GraphIdError("x").permanent
    auth = errors.SecretExpiredError("expired", "AADSTS7000222")
    assert auth.permanent and auth.code == "AADSTS7000222" and str(auth) == "expired"
    assert errors.OpenHandwerkError("x", 200, enveloped=True).enveloped
