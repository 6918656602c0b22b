"""Issue 26: every connection value checked where it is read, against the form's one declaration: the field
named by its label, the value (never a secret's), what is allowed and the fix; every wrong field at once."""

from __future__ import annotations

import datetime as dt
import json
import logging
from types import SimpleNamespace

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.hooks.connection_values import STANDARD, coerce, fields
from oh_outlook_provider.hooks.settings import as_test_result, office365_settings, openhandwerk_settings

TENANT = "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
CLIENT = "0a1b2c3d-1111-4222-8333-444455556666"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"
GOOD = {
    "office365": {"login": CLIENT, "password": "Zz8~secret-value", "tenant_id": TENANT},
    "openhandwerk": {"host": "https://api.oh.example", "schema": "4711", "login": "api", "password": "oh-Passw0rd!"},
}
READ = {"office365": office365_settings, "openhandwerk": openhandwerk_settings}

# field -> (a good value and what the settings hold, the value as the form or a URI stores it (text) and what the
# settings hold, wrong values). The settings attribute is named by `ATTRIBUTE` (default: the field's name).
TABLE = {
    "office365": {
        "login": ((CLIENT, CLIENT), (f" {CLIENT.upper()} ", CLIENT.upper()), ["app", "0a1b2c3d", 42, [CLIENT]]),
        "password": (("s3cret~value", "s3cret~value"), ("s3cret~value ", "s3cret~value "), [["s3cret~v"], {"v": 1}]),
        "tenant_id": ((TENANT, TENANT), (" firma.onmicrosoft.com ", "firma.onmicrosoft.com"),
                      ["t", "contoso", f"{TENANT}x", 1234, True]),
        "credential_valid_until": (("2028-11-26", dt.date(2028, 11, 26)), ("26.11.2028", dt.date(2028, 11, 26)),
                                   ["next year", "31.02.2028", "2028-13-01", "11/26/2028", 20281126]),
        "national_cloud": (("usgov", "usgov"), (" China ", "china"), ["germany", 1, ["global"]]),
        "certificate_private_key": ((PEM, PEM), (PEM, PEM), ["not-a-key-value", "MIIEvQIBADANBg", [PEM]]),
        "certificate_thumbprint": (("AB" * 20, "AB" * 20), (" " + "ab" * 20 + " ", "ab" * 20),
                                   ["AB:CD", "AB" * 32, "ZZ" * 20, 12]),
        "calendar_name": (("Termine", "Termine"), ("  Termine ", "Termine"), ["x" * 256, ["Termine"], {"a": 1}]),
        "authority_url": (("https://127.0.0.1:8443", "https://127.0.0.1:8443"), ("https://a.example/ ", "https://a.example"),
                          ["http://a.example", "a.example", "https://", "https://a b", 8443]),
        "graph_url": (("https://g.example/v1.0", "https://g.example"), (" https://g.example/", "https://g.example"),
                      ["ftp://g.example", "graph.microsoft.com", False]),
        "ca_bundle": (("/ca.pem", "/ca.pem"), (" /etc/ssl/ca.pem ", "/etc/ssl/ca.pem"), ["/" + "x" * 4096, ["/ca.pem"], {}]),
        "request_timeout": ((30, 30.0), ("12.5", 12.5), ["abc", "0", 0, -1, "601", True, [], {"s": 1}, "1e999"]),
    },
    "openhandwerk": {
        "host": (("https://api.oh.example/v1", "https://api.oh.example/v1"), ("api.oh.example/ ", "https://api.oh.example"),
                 ["http://api.oh.example", "ftp://x", "https://", 443]),
        "schema": (("4711", "4711"), (" 4711 ", "4711"), ["x" * 65, [4711]]),
        "login": (("api", "api"), (" api ", "api"), ["u" * 256, {"u": 1}]),
        "password": (("pw-secret", "pw-secret"), (" pw ", " pw "), [["pw-secret"], {"pw": 1}]),
        "timezone": (("Europe/Vienna", "Europe/Vienna"), ("W. Europe Standard Time", "Europe/Berlin"),
                     ["Mars/Olympus", "../etc/passwd", "Factory", 1, "x" * 65]),
        "page_size": ((50, 50), ("50", 50), ["x", "0", 0, -5, "501", 501, "2.5", True, [], "1e999"]),
        "web_url": (("https://app.oh.example", "https://app.oh.example"), (" https://app.oh.example/ ", "https://app.oh.example"),
                    ["http://app.oh.example", "app.oh.example", 5]),
        "paths": (({"appointments": "/termine"}, {"appointments": "/termine"}),
                  ('{"employees": "/mitarbeiter"}', {"employees": "/mitarbeiter"}),
                  ["{not json", '["/a"]', '{"termine": "/t"}', '{"appointments": "termine"}', '{"login": 5}', 7]),
        "ca_bundle": (("/ca.pem", "/ca.pem"), (" /ca.pem ", "/ca.pem"), ["/" + "x" * 4096, [0]]),
        "request_timeout": ((30, 30.0), ("30", 30.0), ["abc", "0", "-3", 601, True]),
    },
}
ATTRIBUTE = {"office365": {"login": "client_id", "password": "client_secret", "credential_valid_until": "valid_until",
                           "national_cloud": "cloud", "authority_url": "authority_host", "graph_url": "graph_root",
                           "ca_bundle": "verify", "request_timeout": "timeout"},
             "openhandwerk": {"host": "base_url", "schema": "id_kn", "login": "employee", "ca_bundle": "verify",
                              "request_timeout": "timeout"}}
SECRETS = {"password", "certificate_private_key"}


def connection(conn_type: str, conn_id: str = "bad", **values) -> SimpleNamespace:
    """A connection as Airflow hands it over: the standard attributes and the Extra JSON text."""
    given = {**GOOD[conn_type], **values}
    if conn_type == "office365" and "certificate_private_key" in values:
        given.setdefault("certificate_thumbprint", "AB" * 20)
    extra = {k: v for k, v in given.items() if k not in STANDARD}
    return SimpleNamespace(conn_id=conn_id, extra=json.dumps(extra), **{k: given.get(k) for k in STANDARD})


def cases(kind: str):
    for conn_type, table in TABLE.items():
        for name, (good, text, wrong) in table.items():
            if kind == "good":
                yield pytest.param(conn_type, name, *good, id=f"{conn_type}-{name}-good")
                yield pytest.param(conn_type, name, *text, id=f"{conn_type}-{name}-as-text")
            else:
                for n, value in enumerate(wrong):
                    yield pytest.param(conn_type, name, value, id=f"{conn_type}-{name}-wrong-{n}")


def test_the_table_covers_every_field_of_both_connection_types():
    for conn_type, table in TABLE.items():
        assert set(table) == set(fields(conn_type)), conn_type


@pytest.mark.parametrize(("conn_type", "name", "value", "expected"), list(cases("good")))
def test_a_good_value_and_the_text_the_form_stores_are_read_typed(conn_type, name, value, expected):
    settings = READ[conn_type](connection(conn_type, **{name: value}))
    assert getattr(settings, ATTRIBUTE[conn_type].get(name, name)) == expected


@pytest.mark.parametrize(("conn_type", "name", "value"), list(cases("wrong")))
def test_a_wrong_value_is_a_configuration_error_naming_the_field(conn_type, name, value):
    with pytest.raises(ConfigurationError) as raised:  # nothing else: no ValueError, TypeError, KeyError ...
        READ[conn_type](connection(conn_type, **{name: value}))
    message = str(raised.value)
    label = fields(conn_type)[name].label
    assert message.startswith("Connection 'bad': 1 value(s) to correct.\n- "), message
    assert f"'{label}': " in message and "Allowed: " in message and f"correct the field '{label}'" in message
    if name in SECRETS:
        assert str(value) not in message and "not shown: a secret" in message
    elif isinstance(value, str) and len(value) < 60:
        assert f"'{' '.join(value.split())}' is not allowed" in message


def test_the_three_values_of_the_issue_and_all_wrong_fields_at_once():
    with pytest.raises(ConfigurationError) as raised:
        openhandwerk_settings(connection("openhandwerk", conn_id="oh", page_size="x", request_timeout="abc",
                                         web_url="http://app.oh.example"))
    lines = str(raised.value).splitlines()
    assert lines[0] == "Connection 'oh': 3 value(s) to correct."
    assert lines[1].startswith("- 'Page size': 'x' is not allowed. Allowed: a whole number from 1 to 500. Fix: "
                               "correct the field 'Page size' or empty it for the default 200.")
    assert lines[2].startswith("- 'Web app URL for links': 'http://app.oh.example' is not allowed.")
    assert lines[3].startswith("- 'Request timeout (seconds)': 'abc' is not allowed. Allowed: a number above 0")
    with pytest.raises(ConfigurationError, match="'Page size': '0' is not allowed"):
        openhandwerk_settings(connection("openhandwerk", page_size="0"))
    with pytest.raises(ConfigurationError, match="'Request timeout \\(seconds\\)': 'abc' is not allowed"):
        office365_settings(connection("office365", request_timeout="abc"))


def test_missing_values_are_listed_with_the_alternative_and_no_secret_is_shown():
    with pytest.raises(ConfigurationError) as raised:
        office365_settings(connection("office365", login=None, password="", tenant_id=" "))
    message = str(raised.value)
    assert message.count("missing") == 3 and "(or fill in 'Certificate private key (PEM, instead of a secret)'" in message
    with pytest.raises(ConfigurationError) as raised:
        office365_settings(connection("office365", password="x" * 1025))
    assert "x" * 20 not in str(raised.value) and "'Client secret VALUE (Geheimer Clientschlüssel, Wert)'" in str(raised.value)


def test_empty_text_means_not_given_and_the_declared_default_counts():
    settings = openhandwerk_settings(connection("openhandwerk", page_size="", timezone=" ", paths="", web_url=None))
    assert (settings.page_size, settings.timezone, settings.paths, settings.web_url) == (200, "Europe/Berlin", {}, None)
    office = office365_settings(connection("office365", request_timeout=None, national_cloud=""))
    assert (office.timeout, office.cloud) == (60.0, "global")


def test_an_unknown_extra_key_is_a_warning_with_the_close_field_and_legacy_keys_are_accepted(caplog):
    with caplog.at_level(logging.WARNING):
        settings = office365_settings(connection("office365", tenant_id=None, tenantid="x", calendar="Termine",
                                                 **{"extra__office365__tenant_id": TENANT}))
    assert settings.tenant_id == TENANT
    assert "'tenantid' (did you mean 'tenant_id'?)" in caplog.text and "'calendar' (did you mean 'calendar_name'?)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        legacy = openhandwerk_settings(connection("openhandwerk", schema=None, id_kn=4711))
        office365_settings(connection("office365", login=None, client_id=CLIENT))
    assert legacy.id_kn == "4711" and "ignored" not in caplog.text


def test_the_messages_are_german_with_the_setting(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    with pytest.raises(ConfigurationError) as raised:
        openhandwerk_settings(connection("openhandwerk", conn_id="oh", page_size="0"))
    message = str(raised.value)
    assert message.startswith("Verbindung 'oh': 1 Wert(e) zu korrigieren.\n- 'Page size': '0' ist nicht erlaubt. "
                              "Erlaubt: eine ganze Zahl von 1 bis 500."), message
    assert as_test_result(message, "oh").startswith("Diese Verbindung: 1 Wert(e)")


def test_in_the_forms_test_the_random_id_becomes_this_connection():
    message = "Connection 'jbAt6RMJ': 2 value(s) to correct.\n- 'Page size': see connection 'jbAt6RMJ'."
    assert as_test_result(message, "jbAt6RMJ") == "This connection: 2 value(s) to correct.\n- 'Page size': see this connection."


@pytest.mark.parametrize(("value", "schema", "expected"), [
    (" 60 ", {"type": ["integer", "null"]}, 60), ("60.0", {"type": ["integer", "null"]}, 60),
    (60.0, {"type": ["integer", "null"]}, 60), ("1,5", {"type": ["number", "null"]}, 1.5),
    ("true", {"type": ["boolean", "null"]}, True), (" FALSE ", {"type": ["boolean", "null"]}, False),
    ("", {"type": ["string", "null"]}, None), ("  ", {"type": ["integer", "null"]}, None),
    (4711, {"type": ["string", "null"]}, "4711"), (" pw ", {"type": ["string", "null"], "format": "password"}, " pw "),
    ("2028-11-26T00:00:00", {"type": ["string", "null"], "format": "date"}, "2028-11-26"),
    ("1.2.2028", {"type": ["string", "null"], "format": "date"}, "2028-02-01"),
    (dt.datetime(2028, 11, 26, 9), {"type": ["string", "null"], "format": "date"}, "2028-11-26"),
    ("abc", {"type": ["integer", "null"]}, "abc"),  # left for the validator to refuse, with the field's label
])
def test_the_usual_coercions_of_form_and_uri_text(value, schema, expected):
    assert coerce(value, schema) == expected


def stored(monkeypatch, conn_id: str, conn_type: str, **values) -> None:
    """The connection as an `AIRFLOW_CONN_*` variable, the way Airflow reads it in Test and in a task."""
    given = {**GOOD[conn_type], **values}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": conn_type, **{k: given.get(k) for k in STANDARD if given.get(k) is not None},
        "extra": {k: v for k, v in given.items() if k not in STANDARD}}))


ISSUE = [({"page_size": "x"}, ["'Page size': 'x' is not allowed"]),
         ({"page_size": "0"}, ["'Page size': '0' is not allowed"]),
         ({"request_timeout": "abc", "page_size": "x"},
          ["'Page size': 'x' is not allowed", "'Request timeout (seconds)': 'abc' is not allowed"])]


@pytest.mark.parametrize(("values", "shown"), ISSUE)
def test_the_forms_test_names_every_wrong_field(monkeypatch, values, shown):
    """Issue 26: the Test toast (a copy of the form under a random id) shows each wrong field, not a ValueError."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook

    stored(monkeypatch, "jbAt6RMJ", "openhandwerk", **values)
    ok, message = OpenHandwerkHook("jbAt6RMJ").test_connection()
    assert not ok and all(text in message for text in shown), message
    assert "jbAt6RMJ" not in message and "This connection: " in message and "ValueError" not in message
    stored(monkeypatch, "jbAt6RMJ", "office365", request_timeout="abc", tenant_id="t")
    ok, message = Office365Hook("jbAt6RMJ").test_connection()
    assert not ok and message.startswith("Setup incomplete: check 1 'Connection values' failed"), message
    assert "This connection: 2 value(s) to correct.\n" in message, message
    assert "'Tenant ID (Mandanten-ID)': 't' is not allowed" in message and "'Request timeout (seconds)': 'abc'" in message


@pytest.mark.parametrize(("values", "shown"), ISSUE)
def test_a_task_fails_at_once_naming_every_wrong_field(monkeypatch, values, shown):
    """Issue 26: the task's error (what the task log shows) lists each wrong field; no retry helps."""
    from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator
    from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
    from oh_outlook_provider.version_compat import AirflowFailException

    stored(monkeypatch, "oh_bad", "openhandwerk", **values)
    with pytest.raises(AirflowFailException) as failed:
        OpenHandwerkAppointmentsOperator(task_id="read_appointments", openhandwerk_conn_id="oh_bad").execute({})
    assert str(failed.value).startswith(f"Connection 'oh_bad': {len(shown)} value(s) to correct.")
    assert all(text in str(failed.value) for text in shown)
    stored(monkeypatch, "o365_bad", "office365", request_timeout="abc")
    with pytest.raises(AirflowFailException, match=r"Connection 'o365_bad': 1 value\(s\) to correct.\n- 'Request timeout"):
        Office365UserMappingOperator(task_id="map_users", office365_conn_id="o365_bad",
                                     openhandwerk_conn_id="oh_bad").execute({})


def test_a_connection_given_as_a_uri_is_read_from_its_text(monkeypatch):
    """An `AIRFLOW_CONN_*` URI carries every extra value as text; the host without a scheme is https."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook

    monkeypatch.setenv("AIRFLOW_CONN_OH_URI", "openhandwerk://api:pw-secret@api.oh.example/4711"
                                              "?page_size=50&request_timeout=12.5&timezone=Europe%2FVienna")
    settings = OpenHandwerkHook("oh_uri").settings
    assert (settings.base_url, settings.id_kn, settings.page_size, settings.timeout, settings.timezone) == (
        "https://api.oh.example", "4711", 50, 12.5, "Europe/Vienna")
    monkeypatch.setenv("AIRFLOW_CONN_O365_URI", f"office365://{CLIENT}:Zz8~secret-value@/?tenant_id={TENANT}"
                                                "&credential_valid_until=26.11.2028&request_timeout=abc")
    with pytest.raises(ConfigurationError, match=r"1 value\(s\) to correct.\n- 'Request timeout \(seconds\)': 'abc'"):
        _ = Office365Hook("o365_uri").settings
