"""Connection values -> typed settings, with errors that name the field."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.hooks.settings import office365_settings, openhandwerk_settings

T = "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
CLIENT = "0a1b2c3d-1111-4222-8333-444455556666"


def conn(login=CLIENT, password="secret-value", **extra):
    return SimpleNamespace(conn_id="o365", login=login, password=password, extra=json.dumps(extra))


def test_national_cloud_selects_authority_and_graph_root():
    s = office365_settings(conn(tenant_id=T, national_cloud="usgov-dod"))
    assert s.authority == f"https://login.microsoftonline.us/{T}"
    assert s.graph_base == "https://dod-graph.microsoft.us/v1.0" and s.scope == "https://dod-graph.microsoft.us/.default"
    china = office365_settings(conn(tenant_id=T, national_cloud="china"))
    assert china.scope == "https://microsoftgraph.chinacloudapi.cn/.default"


def test_overrides_and_dates():
    s = office365_settings(conn(tenant_id=T, authority_url="https://127.0.0.1:9/", graph_url="https://127.0.0.1:9/v1.0",
                                credential_valid_until="31.12.2027", request_timeout="12", ca_bundle="/ca.pem"))
    assert s.authority == f"https://127.0.0.1:9/{T}" and s.graph_base == "https://127.0.0.1:9/v1.0"
    assert s.valid_until == dt.date(2027, 12, 31) and s.timeout == 12.0 and s.verify == "/ca.pem"
    assert s.custom_authority


PEM = "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n"


def test_missing_values_are_named():
    with pytest.raises(ConfigurationError, match=r"(?s)'Client secret VALUE.*missing.*'Tenant ID \(Mandanten-ID\)': missing"):
        office365_settings(conn(password=None))
    with pytest.raises(ConfigurationError, match="'Certificate thumbprint': missing"):
        office365_settings(conn(password=None, tenant_id=T, certificate_private_key=PEM))
    with pytest.raises(ConfigurationError, match="'http://plain' is not allowed. Allowed: an https:// address"):
        office365_settings(conn(tenant_id=T, graph_url="http://plain"))
    with pytest.raises(ConfigurationError, match="'next year' is not allowed. Allowed: a date such as 2028-11-26"):
        office365_settings(conn(tenant_id=T, credential_valid_until="next year"))


def test_secret_is_not_in_repr():
    s = office365_settings(conn(tenant_id=T, password="Top~Secret~Value"))
    assert "Top~Secret~Value" not in repr(s)


def test_legacy_prefixed_extra_keys_and_the_legacy_client_id_are_read():
    s = office365_settings(conn(login=None, **{"extra__office365__tenant_id": T, "client_id": CLIENT}))
    assert s.tenant_id == T and s.client_id == CLIENT


def test_a_tenant_domain_is_a_tenant_id_too():
    """Entra takes the tenant's domain in the authority as well as its GUID (the setup check accepts both)."""
    assert office365_settings(conn(tenant_id="firma.onmicrosoft.com")).authority.endswith("/firma.onmicrosoft.com")


def test_openhandwerk_settings():
    c = SimpleNamespace(conn_id="oh", host="api.example.de", login="api", password="pw",
                        extra=json.dumps({"id_kn": 4711, "paths": '{"appointments": "/termine"}', "page_size": "50"}))
    s = openhandwerk_settings(c)
    assert s.base_url == "https://api.example.de" and s.id_kn == "4711" and s.paths == {"appointments": "/termine"}
    assert s.page_size == 50 and s.timezone == "Europe/Berlin" and "pw" not in repr(s)
    with pytest.raises(ConfigurationError, match=r"Account ID \(idKn\)"):
        openhandwerk_settings(SimpleNamespace(conn_id="oh", host="h", login="a", password="p", extra="{}"))


def oh_conn(host="https://api.oh.example", **extra):
    return SimpleNamespace(conn_id="oh", host=host, login="api", password="pw", extra=json.dumps({"id_kn": "1", **extra}))


def test_openhandwerk_refuses_plain_http_because_the_login_sends_the_password():
    """Issue 11 item 5."""
    for host in ("http://api.oh.example", "http://127.0.0.1:8080", "ftp://x"):
        with pytest.raises(ConfigurationError, match=r"'API base URL': '.*' is not allowed. Allowed: an https:// address"
                                                     r".*the login sends the API password"):
            openhandwerk_settings(oh_conn(host))
    assert openhandwerk_settings(oh_conn("api.oh.example/api")).base_url == "https://api.oh.example/api"


@pytest.mark.parametrize("zone, message", [
    ("Mars/Olympus", "'Appointment time zone': 'Mars/Olympus' is not allowed. Allowed: an IANA time zone such as "
                     "Europe/Berlin"),
    ("../etc/passwd", "'../etc/passwd' is not allowed. Allowed: an IANA time zone"),
    ("Factory", "'Factory' has none: use the zone's canonical IANA name"),
])
def test_a_wrong_time_zone_is_named_at_connection_time(zone, message):
    """Issue 11 item 12: a clear message instead of ZoneInfoNotFoundError in the middle of a run."""
    with pytest.raises(ConfigurationError, match=message):
        openhandwerk_settings(oh_conn(timezone=zone))


def test_windows_zone_names_and_new_iana_names_are_understood():
    assert openhandwerk_settings(oh_conn(timezone="W. Europe Standard Time")).timezone == "Europe/Berlin"
    assert openhandwerk_settings(oh_conn(timezone="Europe/Kyiv")).timezone == "Europe/Kyiv"
    from oh_outlook_provider.graph.timezones import graph_timezone

    assert graph_timezone("Europe/Kyiv") == "FLE Standard Time"


def test_reading_a_connection_registers_no_short_extra_value_with_the_masker(caplog):
    """`extra_dejson` masks every extra value, and idKn "4711" is too short to mask (the masker warns):
    our settings read the JSON text and register only real secrets."""
    from airflow.sdk import Connection

    from tests.airflow_lines import secrets_masker
    SecretsMasker = secrets_masker.SecretsMasker

    SecretsMasker._has_warned_short_secret = False
    conn = Connection(conn_id="oh", conn_type="openhandwerk", host="https://api.oh.example", login="api",
                      password="long-enough-password", extra=json.dumps({"id_kn": "4711", "timezone": "UTC"}))
    with caplog.at_level("WARNING"):
        settings = openhandwerk_settings(conn)
    assert settings.id_kn == "4711" and "too short" not in caplog.text
    assert SecretsMasker._has_warned_short_secret is False


def test_openhandwerk_account_id_is_read_from_schema_before_the_legacy_extra():
    """Issue 13 item 5: the account id lives in `schema` (the form's 'Account ID (idKn)')."""
    both = SimpleNamespace(conn_id="oh", host="https://h", schema=" 4711 ", login="a", password="p",
                           extra=json.dumps({"id_kn": "999"}))
    assert openhandwerk_settings(both).id_kn == "4711"
    legacy = SimpleNamespace(conn_id="oh", host="https://h", schema=None, login="a", password="p",
                             extra=json.dumps({"id_kn": "999"}))
    assert openhandwerk_settings(legacy).id_kn == "999"
