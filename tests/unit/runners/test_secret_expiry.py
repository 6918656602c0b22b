"""check_credential: the connection read afresh, the token asked for, Entra's date preferred, then assessed."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pendulum
import requests_mock

from oh_outlook_provider.runners.secret_expiry import check_credential
from tests.unit.support.certificates import self_signed
from tests.unit.support.graph_mock import CLIENT, GRAPH, SECRET, TENANT, TOKEN_URL, mock_entra

TODAY = dt.date(2026, 11, 26)
DAYS30 = dt.timedelta(days=30)
APPLICATION = f"{GRAPH}/applications(appId='{CLIENT}')"


def connection(**extra) -> SimpleNamespace:
    return SimpleNamespace(conn_id="o365", login=CLIENT, password=SECRET, extra=json.dumps({"tenant_id": TENANT, **extra}))


def test_without_the_token_the_connections_date_is_assessed():
    result = check_credential("o365", DAYS30, False, TODAY, connection(credential_valid_until="2027-01-31"))
    assert result.ok and result.days_left == 66 and "client secret of 'o365'" in result.message


def test_a_broken_connection_is_a_failed_assessment_not_an_exception():
    broken = SimpleNamespace(conn_id="o365", login=CLIENT, password=SECRET, extra="{}")
    result = check_credential("o365", DAYS30, False, TODAY, broken)
    assert not result.ok and result.days_left is None and "tenant" in result.message.lower()


def test_entras_date_wins_over_the_typed_one_and_the_note_says_so():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(APPLICATION, json={"passwordCredentials": [
            {"keyId": "k1", "displayName": "Zugang", "hint": SECRET[:3], "endDateTime": "2026-12-10T09:00:00Z"}]})
        result = check_credential("o365", DAYS30, True, TODAY, connection(credential_valid_until="2027-06-01"))
    assert not result.ok and result.days_left == 14 and "expires on 2026-12-10" in result.message
    assert "but Entra lists 'Zugang' (ID k1) as valid until 2026-12-10" in result.note


def test_without_application_read_all_the_typed_date_is_watched_without_a_note():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(APPLICATION, status_code=403, json={"error": {"code": "Authorization_RequestDenied"}})
        result = check_credential("o365", DAYS30, True, TODAY, connection(credential_valid_until="2027-06-01"))
    assert result.ok and result.days_left == 187 and result.note is None


def test_a_secret_entra_calls_expired_is_expired_whatever_the_date():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000222]})
        result = check_credential("o365", DAYS30, True, TODAY, connection(credential_valid_until="2099-01-01"))
    assert not result.ok and result.days_left == 0 and "AADSTS7000222" in result.message


def test_any_other_token_error_fails_with_its_message_and_never_the_secret():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000215]})
        result = check_credential("o365", DAYS30, True, TODAY, connection(credential_valid_until="2099-01-01"))
    assert not result.ok and "Token request for 'o365' failed" in result.message and "AADSTS7000215" in result.message
    assert SECRET not in result.message


def test_a_certificate_is_assessed_by_its_not_after_and_named_as_a_certificate():
    key, cert, thumbprint = self_signed(days=10)
    conn = connection(certificate_private_key=key + cert, certificate_thumbprint=thumbprint)
    result = check_credential("o365", DAYS30, False, None, conn)  # today in Germany, as the expiry's day is
    assert not result.ok and result.days_left in (9, 10) and "The certificate of 'o365' expires" in result.message


def test_today_is_the_day_in_germany():
    with pendulum.travel_to(pendulum.datetime(2027, 1, 30, 23, 30, tz="UTC"), freeze=True):  # 31 January in Berlin
        result = check_credential("o365", dt.timedelta(0), False, None, connection(credential_valid_until="2027-01-31"))
    assert result.ok and result.days_left == 0
