"""Entra's and Graph's error answers turned into the provider's exceptions, each with the fix."""

from __future__ import annotations

import pytest

from oh_outlook_provider import exceptions as errors
from oh_outlook_provider.graph.errors import (
    APP_NAME,
    permission_for,
    tenant_not_found,
    translate_graph_error,
    translate_token_error,
)


@pytest.mark.parametrize(
    ("code", "kind", "phrase"),
    [
        (7000215, errors.AuthenticationError, "not its 'Secret ID'"),
        (7000222, errors.SecretExpiredError, "Create a new client secret"),
        (700016, errors.AuthenticationError, "no application with this Application (client) ID"),
        (90002, errors.AuthenticationError, "tenant was not found"),
    ],
)
def test_token_errors_translate_to_the_fix(code, kind, phrase):
    error = translate_token_error({"error": "invalid_client", "error_codes": [code],
                                   "error_description": f"AADSTS{code}: boom"}, "office365_default")
    assert type(error) is kind and error.code == f"AADSTS{code}"
    assert phrase in str(error) and "Airflow connection 'office365_default'" in str(error)


def test_error_codes_given_as_text_are_understood_and_junk_ignored():
    assert isinstance(translate_token_error({"error_codes": ["7000222", "x", None]}, "c"), errors.SecretExpiredError)


def test_an_unknown_token_error_names_the_error_and_the_first_line_only():
    error = translate_token_error({"error": "invalid_request", "error_codes": [50000],
                                   "error_description": "AADSTS50000: first line\nTrace ID: 123\nTimestamp"}, "c")
    assert type(error) is errors.AuthenticationError and error.code == "invalid_request"
    assert "(invalid_request): AADSTS50000: first line." in str(error) and "Trace ID" not in str(error)
    bare = translate_token_error({}, "c")
    assert bare.code == "unknown_error" and "no details" in str(bare)


def test_tenant_not_found_names_the_connection_and_the_cloud():
    error = tenant_not_found("oh_o365")
    assert error.code == "AADSTS90002" and "'oh_o365'" in str(error) and "national cloud" in str(error)


@pytest.mark.parametrize(("path", "permission"), [
    ("/users/u1/outlook/masterCategories", "MailboxSettings.ReadWrite"),
    ("/applications(appId='x')", "Application.Read.All"),
    ("/users/u1/calendar/events", "Calendars.ReadWrite"),  # /calendar before /users
    ("/users/u1/events/e1", "Calendars.ReadWrite"),
    ("/users", "User.Read.All"),
    ("/groups", "User.Read.All and Calendars.ReadWrite"),
])
def test_the_permission_a_refusal_is_about_follows_the_path(path, permission):
    assert permission_for(path).startswith(permission)


@pytest.mark.parametrize(
    ("path", "status", "body", "mailbox", "kind", "phrase"),
    [
        ("/users", 403, {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}},
         None, errors.PermissionMissingError, "Microsoft Graph > Application > User.Read.All"),
        ("/users/u1/events", 403, {"error": {"code": "ErrorAccessDenied", "message": "Access to OData is disabled"}},
         "u1", errors.MailboxAccessDeniedError, "application access policy"),
        ("/users/u1/calendar", 404, {"error": {"code": "MailboxNotEnabledForRESTAPI", "message": "inactive"}},
         "u1", errors.MailboxNotEnabledError, "Exchange Online"),
        ("/users/u1/events/e1", 404, {"error": {"code": "ErrorItemNotFound", "message": "gone\nmore"}},
         "u1", errors.NotFoundError, "GET /users/u1/events/e1: not found (ErrorItemNotFound) gone"),
        ("/users", 401, {"error": {"code": "InvalidAuthenticationToken"}}, None, errors.GraphError,
         "even after a fresh token"),
        ("/users", 500, None, None, errors.GraphError, "GET /users failed with HTTP 500"),
    ],
)
def test_graph_errors_translate(path, status, body, mailbox, kind, phrase):
    error = translate_graph_error(status, body, "GET", path, mailbox)
    assert type(error) is kind and error.status == status and phrase in str(error)


def test_missing_calendar_permission_names_grant_admin_consent():
    error = translate_graph_error(403, {"error": {"code": "Forbidden"}}, "GET", "/users/u1/events", None)
    assert isinstance(error, errors.PermissionMissingError)
    assert "Calendars.ReadWrite" in str(error) and "Grant admin consent" in str(error) and APP_NAME in str(error)


def test_access_denied_names_policy_or_consent():
    policy = translate_graph_error(403, {"error": {"code": "ErrorAccessDenied", "message": (
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")}},
        "GET", "/users/u1/events", "u1")
    plain = translate_graph_error(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}},
                                  "GET", "/users/u1/events", "u1")
    assert isinstance(policy, errors.MailboxAccessDeniedError) and "Grant admin consent" not in str(policy)
    assert isinstance(plain, errors.MailboxAccessDeniedError) and "Grant admin consent" in str(plain)


def test_access_denied_to_the_category_list_is_a_missing_permission_not_a_blocked_mailbox():
    error = translate_graph_error(403, {"error": {"code": "ErrorAccessDenied"}}, "GET",
                                  "/users/u1/outlook/masterCategories", "u1")
    assert type(error) is errors.PermissionMissingError and "MailboxSettings.ReadWrite" in str(error)


def test_server_errors_may_be_retried_client_errors_not():
    assert translate_graph_error(503, None, "GET", "/users", None).permanent is False
    assert translate_graph_error(429, None, "GET", "/users", None).permanent is False
    assert translate_graph_error(400, None, "GET", "/users", None).permanent is True


def test_a_plain_access_denied_names_the_missing_permission_before_any_scope():
    """Issue 22: for an admin who skipped guide step 9 or 11 the RBAC/access-policy text led the wrong way."""
    text = str(translate_graph_error(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}},
                                     "GET", "/users/u1/calendar", "u1"))
    assert text.index("Calendars.ReadWrite is missing or lacks admin consent") < text.index("scopes the app away")
    policy = str(translate_graph_error(403, {"error": {"code": "ErrorAccessDenied", "message": (
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")}},
        "GET", "/users/u1/calendar", "u1"))
    assert "application access policy" in policy and "lacks admin consent" not in policy


def test_entras_answers_in_german(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    wrong = str(translate_token_error({"error": "invalid_client", "error_codes": [7000215]}, "office365_default"))
    assert wrong.startswith("AADSTS7000215: Der geheime Clientschlüssel ist falsch. Füge den WERT des Schlüssels")
    assert "Airflow-Verbindung 'office365_default'" in wrong and "App-Registrierungen > openHandwerk-Cloud > " \
        "Zertifikate & Geheimnisse im Microsoft Entra Admin Center" in wrong
    refused = str(translate_graph_error(403, {"error": {"code": "Authorization_RequestDenied"}}, "GET", "/users", None))
    assert "'Administratorzustimmung für <Ihre Firma> erteilen'" in refused and "API-Berechtigungen" in refused
