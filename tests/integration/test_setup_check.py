"""Issue 22: every guide mistake the checklist names, reproduced in the sandbox; the same first failed
step from the connection's Test (the hook, over HTTPS with real msal), in English and in German."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from devtools.sandbox import control
from devtools.sandbox.state import CLIENT_ID, SECRET_ID
from oh_outlook_provider.graph import permissions as p
from oh_outlook_provider.runners.checklist import for_the_form, log_checklist
from oh_outlook_provider.runners.setup_check import office365_checklist
from oh_outlook_provider.version_compat import AirflowFailException
from tests.conftest import graph_hook, oh_hook


class Recorder:
    """The task logger, as the setup DAG hands it to log_checklist: what was logged, by level."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.errors: list[str] = []

    def info(self, fmt: str, *args: object) -> None:
        self.infos.append(fmt % args)

    def error(self, fmt: str, *args: object) -> None:
        self.errors.append(fmt % args)


def claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


# mistake -> (sandbox change, connection change, first failed check, its key, English words, German words)
MISTAKES = {
    "only Calendars.Read": (control.pick_calendars_read, {}, 7, "calendars", "the wrong permission was picked",
                            "die falsche Berechtigung wurde gewählt"),
    "no admin consent": (control.withhold_consent, {}, 8, "consent", "admin consent was not given",
                         "die Administratorzustimmung fehlt"),
    "delegated permission": (lambda s: (control.grant(s, "Application.Read.All"), control.add_as_delegated(s)), {},
                             5, "type", "Calendars.ReadWrite added as Delegated permission",
                             "Calendars.ReadWrite als delegierte Berechtigung hinzugefügt"),
    "Secret ID pasted": (None, {"secret": SECRET_ID}, 3, "secret", "holds the secret's 'Secret ID'",
                         "enthält die 'Geheime ID'"),
    "wrong secret": (None, {"secret": "sbx~not-the-value"}, 3, "secret", "AADSTS7000215", "AADSTS7000215"),
    "expired secret": (control.expire_secret, {}, 4, "expiry", "AADSTS7000222: the client secret has expired",
                       "AADSTS7000222: Der geheime Clientschlüssel ist abgelaufen"),
    "unknown tenant": (None, {"tenant_id": str(uuid.UUID(int=7))}, 1, "tenant", "AADSTS90002",
                       "AADSTS90002: Der Mandant wurde nicht gefunden"),
    "unknown app": (None, {"login": str(uuid.UUID(int=8))}, 2, "application", "AADSTS700016",
                    "AADSTS700016: Im Mandanten gibt es keine Anwendung"),
    "no licensed user": (control.unlicense_everyone, {}, 10, "mailbox", "No user has an Exchange Online licence",
                         "Kein Benutzer hat eine Exchange Online-Lizenz"),
    "RBAC scope excludes every mailbox": (control.scope_rbac, {}, 7, "calendars", "Calendars.ReadWrite is not in the token",
                                          "Calendars.ReadWrite ist nicht im Token"),
    "access policy blocks every mailbox": (control.scope_policy, {}, 10, "mailbox",
                                           "Exchange Online denies every mailbox tried",
                                           "Exchange Online verweigert jedes geprüfte Postfach"),
}


def _hook(tenant, connection: dict):
    connection = dict(connection)
    if "login" in connection:
        hook = graph_hook(tenant, **{k: v for k, v in connection.items() if k not in ("login", "secret")})
        hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_id": connection["login"]})
        return hook
    secret = connection.pop("secret", None)
    hook = graph_hook(tenant, **connection)
    if secret:
        hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": secret})
    return hook


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_the_test_button_names_the_guide_step_of_each_mistake(tenant, monkeypatch, mistake, language):
    change, connection, number, key, english, german = MISTAKES[mistake]
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", language)
    if change:
        change(tenant.state)
    ok, message = _hook(tenant, connection).test_connection()
    verdict = message.splitlines()[0]
    assert not ok
    prefix = "Setup incomplete: check" if language == "en" else "Einrichtung unvollständig: Prüfung"
    assert verdict.startswith(f"{prefix} {number} "), message
    assert (english if language == "en" else german) in verdict
    without_the_role = ("only Calendars.Read", "no admin consent", "delegated permission",
                        "RBAC scope excludes every mailbox")
    if mistake in without_the_role:  # never claims Calendars.ReadWrite when the token does not carry it
        assert " 7. OK" not in message
    # The setup DAG's task (log_checklist) on the same tenant: the same first failed step, its fix, the task failed.
    checklist = office365_checklist(_hook(tenant, connection))
    assert checklist.first_failed.key == key  # the step itself, not only its number
    log = Recorder()
    with pytest.raises(AirflowFailException, match=f" {number}: "):
        log_checklist(checklist, log)
    assert for_the_form(log.errors[-1], "office365_default") == verdict  # `airflow connections test` is `Test`
    failed = "FAILED" if language == "en" else "FEHLER"
    assert f"{number:>2}. {failed:<14} {checklist.first_failed.title}" in log.infos


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_correct_setup_says_ok_with_every_step(tenant, monkeypatch, language):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", language)
    ok, message = graph_hook(tenant).test_connection()
    assert ok, message
    lines = message.splitlines()
    # Application.Read.All is optional and not granted: step 5 reads the app registration with it
    assert lines[0] == ("Connection OK: 11 of 12 steps of the setup checked (1 could not be: 5 'Permission type "
                        "Application (not Delegated)'), 0 warning(s)." if language == "en" else
                        "Verbindung OK: 11 von 12 Schritten der Einrichtung geprüft (1 nicht prüfbar: 5 "
                        "'Berechtigungstyp Anwendung (nicht Delegiert)'), 0 Warnung(en).")
    assert len(lines) == 13 and all(line.startswith(f"{n:>2}. ") for n, line in enumerate(lines[1:], 1))
    log = Recorder()
    statuses = log_checklist(office365_checklist(graph_hook(tenant)), log)  # the setup DAG's task
    assert log.errors == [] and log.infos[-1] == lines[0] and len(statuses) == 12
    assert all(any(info.startswith(f"{n:>2}. ") for info in log.infos) for n in range(1, 13))
    oh_ok, oh_message = oh_hook(tenant).test_connection()
    assert oh_ok and oh_message.startswith("Connection OK" if language == "en" else "Verbindung OK"), oh_message


def test_rbac_scope_with_mailboxes_in_it_passes_with_a_warning(tenant):
    users = {u.id for u in tenant.state.users.values() if u.has_mailbox}
    control.scope_rbac(tenant.state, users)
    ok, message = graph_hook(tenant).test_connection()
    assert ok and " 7. WARNING Calendars.ReadWrite" in message and "10. OK" in message
    assert "access comes from Exchange RBAC for Applications" in message.splitlines()[0]


def test_the_sandbox_token_carries_only_the_granted_and_consented_roles(tenant):
    """Fidelity row K3: the app-only token's `roles` are the consented application permissions; none: no claim."""
    assert set(claims(graph_hook(tenant).get_token())["roles"]) == {"User.Read.All", "Calendars.ReadWrite"}
    control.add_as_delegated(tenant.state, "User.Read.All")
    assert claims(graph_hook(tenant).get_token())["roles"] == ["Calendars.ReadWrite"]
    control.withhold_consent(tenant.state)
    assert "roles" not in claims(graph_hook(tenant).get_token())
    assert tenant.state.apps[CLIENT_ID].added == {"User.Read.All": "Scope", "Calendars.ReadWrite": "Role"}


def test_the_registration_lists_what_was_added_as_role_or_scope(tenant):
    control.grant(tenant.state, "Application.Read.All")
    control.add_as_delegated(tenant.state, "Calendars.ReadWrite")
    app = graph_hook(tenant).get(f"/applications(appId='{CLIENT_ID}')", params={"$select": "requiredResourceAccess"})
    assert p.configured(app) == {"Calendars.ReadWrite": {"Scope"}, "User.Read.All": {"Role"},
                                 "Application.Read.All": {"Role"}}
