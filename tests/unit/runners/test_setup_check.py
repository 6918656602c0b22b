"""The setup checklist against a scripted hook: each guide mistake fails its own step first."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from types import SimpleNamespace

import pytest

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.graph import permissions as p
from oh_outlook_provider.graph.errors import translate_graph_error, translate_token_error
from oh_outlook_provider.runners import setup_check as sc
from oh_outlook_provider.runners.checklist import log_checklist
from oh_outlook_provider.version_compat import AirflowFailException

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
TODAY = dt.date(2026, 3, 20)
LICENSED = {"service": "exchange", "capabilityStatus": "Enabled"}
U1, U2 = "0e6b6c52-9d55-4c0e-8d2b-6a4a1e2f3b41", "0e6b6c52-9d55-4c0e-8d2b-6a4a1e2f3b42"
KEYS = ["tenant", "application", "secret", "expiry", "type", "user_read", "calendars", "consent", "users", "mailbox",
        "mailbox_settings", "application_read"]


def token(*roles: str) -> str:
    claims = {"idtyp": "app", **({"roles": list(roles)} if roles else {})}
    return "eyJ0eXAiOiJKV1QifQ." + base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode() + ".sig"


class Hook:
    """Office365Hook's surface the checklist uses: settings, get_token, get, credential_valid_until."""

    def __init__(self, roles=("User.Read.All", "Calendars.ReadWrite"), token_error=None, secret="Zz8~value",
                 tenant=TENANT, users=None, denied=(), added=None, valid_until=dt.date(2027, 12, 31), policy=False, rbac=False):
        self.settings = SimpleNamespace(conn_id="office365_default", tenant_id=tenant, client_id=CLIENT,
                                        client_secret=secret, certificate_private_key=None, certificate_thumbprint=None,
                                        credential_kind="client secret")
        self.roles, self.token_error, self.denied, self.added, self.policy = roles, token_error, set(denied), added, policy
        self.users = users if users is not None else [{"id": U1, "userPrincipalName": "a@x.de", "assignedPlans": []},
                                                      {"id": U2, "userPrincipalName": "b@x.de",
                                                       "assignedPlans": [LICENSED]}]
        self.valid_until, self.calls, self.rbac = valid_until, [], rbac

    def get_token(self):
        if self.token_error:
            raise translate_token_error({"error": "invalid_client", "error_codes": [self.token_error]}, "office365_default")
        return token(*self.roles)

    def credential_valid_until(self):
        return self.valid_until

    def get(self, path, params=None):
        self.calls.append(path)
        if path.startswith("/applications"):
            if not set(self.roles) & p.APPLICATION_READERS:
                raise translate_graph_error(403, {"error": {"code": "Authorization_RequestDenied"}}, "GET", path, None)
            return {"passwordCredentials": [], "keyCredentials": [],
                    "requiredResourceAccess": p.required_resource_access(self.added or {r: "Role" for r in self.roles
                                                                                       if r in p.IDS})}
        if path == "/users":
            return {"value": self.users}
        user = path.split("/")[2]
        calendars = {"Calendars.Read", "Calendars.ReadWrite"} & set(self.roles)
        if user in self.denied or not (calendars or self.rbac):
            message = "Blocked by tenant configured AppOnly AccessPolicy settings." if self.policy else "Access is denied."
            raise translate_graph_error(403, {"error": {"code": "ErrorAccessDenied", "message": message}}, "GET", path, user)
        return {"id": "cal"}


def statuses(checklist):
    return {s.key: s.status for s in checklist.steps}


def test_a_correct_setup_lists_every_step_ok_and_claims_only_what_the_token_carries():
    checklist = sc.office365_checklist(Hook(), TODAY)
    assert [s.key for s in checklist.steps] == KEYS and checklist.ok and checklist.first_failed is None
    got = statuses(checklist)
    assert [got[k] for k in KEYS[:4] + KEYS[5:10]] == [sc.OK] * 9
    assert got["type"] == sc.NOT_CHECKED and got["mailbox_settings"] == got["application_read"] == sc.OPTIONAL
    assert checklist.verdict() == ("Connection OK: 11 of 12 steps of the setup checked (1 could not be: "
                                   "5 'Permission type Application (not Delegated)'), 0 warning(s).")
    assert all(len(line) <= 100 for line in checklist.table())


@pytest.mark.parametrize(("hook", "key", "words"), [
    (Hook(tenant="contoso"), "tenant", "neither a GUID nor a domain name"),
    (Hook(token_error=90002), "tenant", "AADSTS90002"),
    (Hook(token_error=700016), "application", "AADSTS700016"),
    (Hook(token_error=7000215, secret="3c9f1a2b-7d6e-4f50-9a8b-1c2d3e4f5a6b"), "secret", "'Secret ID' (a GUID)"),
    (Hook(token_error=7000215), "secret", "AADSTS7000215"),
    (Hook(token_error=7000222), "expiry", "AADSTS7000222"),
    (Hook(roles=()), "consent", "admin consent was not given"),
    (Hook(roles=("User.Read.All", "Calendars.Read")), "calendars", "the wrong permission was picked"),
    (Hook(roles=("Calendars.ReadWrite",)), "user_read", "Application permissions (not Delegated) > User.Read.All"),
    (Hook(roles=("User.Read.All", "Application.Read.All"),
          added={"User.Read.All": "Role", "Calendars.ReadWrite": "Scope", "Application.Read.All": "Role"}),
     "type", "Calendars.ReadWrite added as Delegated permission"),
    (Hook(roles=("User.Read.All", "Application.Read.All"),
          added={"User.Read.All": "Role", "Calendars.ReadWrite": "Role", "Application.Read.All": "Role"}),
     "calendars", "added but not consented"),
    (Hook(users=[{"id": U1, "assignedPlans": []}]), "mailbox", "No user has an Exchange Online licence"),
    (Hook(denied={U2}, policy=True), "mailbox", "Exchange Online denies every mailbox tried (1)"),
])
def test_each_guide_mistake_fails_its_own_step_first(hook, key, words):
    checklist = sc.office365_checklist(hook, TODAY)
    failed = checklist.first_failed
    assert not checklist.ok and failed.key == key, checklist.report()
    assert words in failed.detail and words in checklist.verdict()
    later = checklist.steps[checklist.number(failed):]
    assert not any(s.status == sc.OK and s.key in ("user_read", "calendars") for s in later if key == "consent")


def test_no_token_checks_no_permission_and_sends_no_graph_call():
    hook = Hook(token_error=700016)
    got = statuses(sc.office365_checklist(hook, TODAY))
    assert hook.calls == [] and got["secret"] == got["user_read"] == got["calendars"] == sc.NOT_CHECKED


def test_a_missing_calendars_permission_is_named_before_any_mailbox_scope():
    """Issue 22: a missing Calendars.ReadWrite was first diagnosed as RBAC scoping."""
    checklist = sc.office365_checklist(Hook(roles=("User.Read.All", "MailboxSettings.ReadWrite"), denied={U2}), TODAY)
    assert checklist.first_failed.key == "calendars"
    mailbox = next(s for s in checklist.steps if s.key == "mailbox")
    assert mailbox.detail.startswith("No mailbox could be read: Calendars.ReadWrite is missing")


def test_rbac_for_applications_gives_the_mailbox_without_the_role_in_the_token():
    checklist = sc.office365_checklist(Hook(roles=("User.Read.All",), rbac=True), TODAY)
    got = statuses(checklist)
    assert checklist.ok and got["calendars"] == sc.WARNING and got["mailbox"] == sc.OK
    assert "Exchange RBAC for Applications" in next(s.detail for s in checklist.steps if s.key == "calendars")


def test_a_secret_expiring_soon_or_without_a_date_is_a_warning_not_a_failure():
    soon = sc.office365_checklist(Hook(valid_until=TODAY + dt.timedelta(days=10)), TODAY)
    unknown = sc.office365_checklist(Hook(valid_until=None), TODAY)
    assert soon.ok and statuses(soon)["expiry"] == sc.WARNING and "10 days left" in soon.report()
    assert unknown.ok and statuses(unknown)["expiry"] == sc.WARNING and "No expiry date known" in unknown.report()


def test_with_application_read_all_the_type_is_checked_and_the_optional_line_says_granted():
    got = statuses(sc.office365_checklist(Hook(roles=("User.Read.All", "Calendars.ReadWrite", "Application.Read.All")),
                                          TODAY))
    assert got["type"] == sc.OK and got["application_read"] == sc.OK


def test_a_graph_failure_reading_the_registration_leaves_the_type_unchecked():
    class Broken(Hook):
        def get(self, path, params=None):
            if path.startswith("/applications"):
                raise GraphError("boom", 500, "InternalServerError")
            return super().get(path, params)

    got = statuses(sc.office365_checklist(Broken(roles=("User.Read.All", "Calendars.ReadWrite", "Application.Read.All")),
                                          TODAY))
    assert got["type"] == sc.NOT_CHECKED


def test_in_german(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    checklist = sc.office365_checklist(Hook(roles=()), TODAY)
    assert checklist.verdict().startswith("Einrichtung unvollständig: Prüfung 8 'Administratorzustimmung' fehlgeschlagen "
                                          "(Anleitung: Berechtigung erteilen, Schritt 11-12)")
    assert "'Administratorzustimmung für <Ihre Firma> erteilen'" in checklist.verdict()
    assert " 8. FEHLER         Administratorzustimmung" in checklist.table()
    ok = sc.office365_checklist(Hook(), TODAY)
    assert ok.verdict() == ("Verbindung OK: 11 von 12 Schritten der Einrichtung geprüft (1 nicht prüfbar: "
                            "5 'Berechtigungstyp Anwendung (nicht Delegiert)'), 0 Warnung(en).")


def test_the_form_calls_it_this_connection_before_the_lines_are_wrapped():
    checklist = sc.office365_checklist(Hook(token_error=7000215), TODAY)
    checklist = checklist.in_the_form("office365_default")
    assert "office365_default" not in checklist.report() and "this connection" in checklist.report()


def test_the_task_logs_the_table_and_fails_when_a_required_step_failed(caplog):
    log = logging.getLogger("setup-check-test")
    with caplog.at_level(logging.INFO, "setup-check-test"):
        assert log_checklist(sc.office365_checklist(Hook(), TODAY), log)["calendars"] == sc.OK
        with pytest.raises(AirflowFailException, match="failed at check 7: Calendars.ReadWrite"):
            log_checklist(sc.office365_checklist(Hook(roles=("User.Read.All", "Calendars.Read")), TODAY), log)
    assert " 7. FAILED         Calendars.ReadWrite" in caplog.text and "Setup incomplete" in caplog.text


def test_an_unusable_certificate_fails_its_own_line_and_claims_nothing_about_the_tenant():
    from oh_outlook_provider.exceptions import ConfigurationError

    class BadKey(Hook):
        def get_token(self):
            raise ConfigurationError("Connection 'x': the certificate cannot be used: ValueError. Check the PEM key.")

    checklist = sc.office365_checklist(BadKey(), TODAY)
    got = statuses(checklist)
    assert checklist.first_failed.key == "secret" and got["tenant"] == got["application"] == sc.NOT_CHECKED


def test_the_readme_table_names_each_line_as_the_checklist_does_in_both_languages(monkeypatch):
    """README "Checking the setup": one row per step, its English and German title as the admin reads them."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    rows = [line.split("|")[1:-1] for line in readme.splitlines() if re.match(r"\| \d+ \| ", line)]
    titles = {int(row[0]): (row[2].strip(), row[3].strip()) for row in rows if len(row) == 5}
    english = [step.title for step in sc.office365_checklist(Hook(), TODAY).steps]
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    german = [step.title for step in sc.office365_checklist(Hook(), TODAY).steps]
    assert {n: titles[n] for n in range(1, 13)} == dict(enumerate(zip(english, german, strict=True), 1))


def test_wrong_connection_values_are_line_one_with_one_table_line_per_field(caplog):
    """The checklist reports a wrong value as a task and the Test do (hooks/connection_values.py): every
    wrong field, each on its own line of the log table; nothing after it is claimed."""
    from types import SimpleNamespace as Conn

    from oh_outlook_provider.hooks.settings import office365_settings

    conn = Conn(conn_id="o365", login=CLIENT, password="Zz8~value",
                extra=json.dumps({"tenant_id": TENANT, "request_timeout": "abc", "national_cloud": "mars"}))

    class WrongValues(Hook):
        @property
        def settings(self):
            return office365_settings(conn)

        @settings.setter
        def settings(self, value):
            pass

    checklist = sc.office365_checklist(WrongValues(), TODAY)
    assert [s.key for s in checklist.steps] == ["values"] and not checklist.ok
    assert checklist.verdict().startswith("Setup incomplete: check 1 'Connection values' failed")
    table = checklist.table()
    timeout = [n for n, line in enumerate(table) if "'Request timeout (seconds)'" in line]
    cloud = [n for n, line in enumerate(table) if "'National cloud'" in line]
    assert timeout and cloud and timeout[0] != cloud[0], table
    with pytest.raises(AirflowFailException, match="Connection values"):
        log_checklist(checklist, logging.getLogger("setup-check-test"))


def test_days_left_count_from_today_in_germany_as_the_expiry_sensor_counts():
    """Bug: the checklist counted from the machine's date (UTC in a container) and the expiry sensor from
    today in Germany, so from 22:00/23:00 UTC the Test button showed one day more than the sensor."""
    import pendulum

    with pendulum.travel_to(pendulum.datetime(2027, 1, 30, 23, 30, tz="UTC"), freeze=True):  # 31 January in Berlin
        checklist = sc.office365_checklist(Hook(valid_until=dt.date(2027, 3, 2)))
    expiry = next(s for s in checklist.steps if s.key == "expiry")
    assert "(30 days left" in expiry.detail, expiry.detail
