"""Credential lifetime: the assessment, a certificate's notAfter, the rotation steps, Entra's own dates."""

from __future__ import annotations

import base64
import datetime as dt

from oh_outlook_provider.graph.credentials import (
    Registered,
    assess,
    certificate_not_after,
    expiry_in_entra,
    reconcile,
    registered,
    rotation_steps,
)
from tests.unit.support.certificates import self_signed

TODAY = dt.date(2026, 11, 26)
DAYS30 = dt.timedelta(days=30)


def test_assess_each_case():
    ok = assess(dt.date(2027, 6, 1), TODAY, DAYS30, "office365_default")
    assert ok.ok and ok.days_left == 187 and "valid until 2027-06-01" in ok.message
    short = assess(dt.date(2026, 12, 10), TODAY, DAYS30, "office365_default")
    assert not short.ok and short.days_left == 14 and "14 days left" in short.message
    assert "Certificates & secrets" in short.message and "office365_default" in short.message
    expired = assess(dt.date(2026, 11, 1), TODAY, dt.timedelta(0), "c")
    assert not expired.ok and "expired on 2026-11-01 (25 days ago)" in expired.message
    missing = assess(None, TODAY, DAYS30, "c")
    assert not missing.ok and "No expiry date set" in missing.message
    assert assess(None, TODAY, dt.timedelta(0), "c").ok
    by_token = assess(dt.date(2030, 1, 1), TODAY, dt.timedelta(0), "c", expired_by_token=True)
    assert not by_token.ok and "AADSTS7000222" in by_token.message


def test_a_token_error_fails_the_assessment_with_its_text_and_no_days():
    result = assess(dt.date(2030, 1, 1), TODAY, DAYS30, "c", token_error="AADSTS7000215: the client secret is wrong")
    assert not result.ok and result.days_left is None and "AADSTS7000215" in result.message


def test_expired_by_token_counts_no_days_left_even_with_a_future_date():
    assert assess(dt.date(2030, 1, 1), TODAY, DAYS30, "c", expired_by_token=True).days_left == 0
    assert assess(dt.date(2026, 11, 20), TODAY, DAYS30, "c", expired_by_token=True).days_left == -6
    assert assess(None, TODAY, DAYS30, "c", expired_by_token=True).days_left == 0


def test_exactly_the_required_days_left_passes():
    assert assess(TODAY + DAYS30, TODAY, DAYS30, "c").ok
    assert not assess(TODAY + DAYS30 - dt.timedelta(days=1), TODAY, DAYS30, "c").ok


def test_certificate_not_after_is_read_from_pem():
    key, cert, _ = self_signed(days=100)
    not_after = certificate_not_after(key + cert)
    assert 98 <= (not_after - dt.datetime.now(dt.UTC)).days <= 100
    assert certificate_not_after(key) is None


def test_rotation_steps_are_short_numbered_lines():
    """Issue 13 item 6: the rotation warning was one line of 330 characters."""
    for kind in ("client secret", "certificate"):
        message = assess(dt.date(2026, 1, 1), dt.date(2026, 11, 28), dt.timedelta(days=30), "office365_default",
                         kind).message
        assert max(map(len, message.splitlines())) <= 100 and "\n1. " in message and "\n2. " in message


def test_rotation_steps_name_the_connection_and_keep_continuation_lines_unnumbered():
    steps = rotation_steps("oh_o365", "client secret").splitlines()
    assert steps[1] == "Rotate it:" and steps[2].startswith("1. Microsoft Entra admin center")
    assert any("'oh_o365'" in line for line in steps)
    assert "   set 'Client secret valid until' to the date shown, Save" in steps
    assert [line.split(".")[0] for line in steps if line[:1].isdigit()] == ["1", "2", "3", "4"]
    assert "Certificates: upload a new one" in rotation_steps("c", "certificate")


def test_registered_reads_secrets_and_certificates_and_skips_unreadable_entries():
    thumb = bytes.fromhex("AB" * 20)
    application = {
        "passwordCredentials": [
            {"keyId": "k1", "displayName": "Zugang", "endDateTime": "2027-01-31T09:00:00Z", "hint": "Zz8"},
            {"keyId": "k2", "displayName": "broken", "endDateTime": "not a date"},
            {"keyId": "k3", "displayName": "no end"},
        ],
        "keyCredentials": [
            {"keyId": "c1", "displayName": "CN=openHandwerk", "endDateTime": "2028-02-01T00:00:00",
             "customKeyIdentifier": base64.b64encode(thumb).decode(), "hint": "ignored"},
        ],
    }
    secret, cert = registered(application)
    assert secret == Registered("k1", "Zugang", dt.datetime(2027, 1, 31, 9, tzinfo=dt.UTC), "Zz8", "")
    assert cert.thumbprint == "AB" * 20 and cert.hint == "" and cert.ends.tzinfo is dt.UTC
    assert registered({}) == [] and registered({"passwordCredentials": None}) == []


def test_expiry_in_entra_matches_by_hint_or_thumbprint_and_takes_the_earliest():
    creds = [Registered("a", "first", dt.datetime(2027, 5, 1, tzinfo=dt.UTC), hint="Zz8"),
             Registered("b", "second", dt.datetime(2027, 2, 1, 23, 30, tzinfo=dt.UTC), hint="Zz8"),
             Registered("c", "cert", dt.datetime(2028, 1, 1, tzinfo=dt.UTC), thumbprint="AB" * 20)]
    day, which = expiry_in_entra(creds, "Zz8~secret", None)
    assert day == dt.date(2027, 2, 2)  # 23:30 UTC is the next day in Berlin
    assert which == "'second' (ID b) or 1 more alike"
    assert expiry_in_entra(creds, "Zz8~secret", None, zone="UTC")[0] == dt.date(2027, 2, 1)
    assert expiry_in_entra(creds, None, ":".join(["ab"] * 20))[0] == dt.date(2028, 1, 1)
    assert expiry_in_entra(creds, "xyz-other", None) == (None, "")
    assert expiry_in_entra(creds, None, None) == (None, "")


def test_reconcile_prefers_entra_and_says_why():
    typed, entra = dt.date(2027, 3, 1), dt.date(2027, 1, 31)
    assert reconcile(entra, entra, "'x'", "c") == (entra, None)
    watched, note = reconcile(typed, entra, "'x' (ID k)", "c")
    assert watched == entra and "says the client secret is valid until 2027-03-01" in note
    watched, note = reconcile(None, entra, "'x'", "c", "certificate")
    assert watched == entra and "has no date" in note and "Certificate" in note
    watched, note = reconcile(typed, None, "", "c")
    assert watched == typed and "lists no credential" in note


def test_the_expiry_warning_and_the_rotation_steps_in_german(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    result = assess(dt.date(2026, 4, 1), dt.date(2026, 3, 20), dt.timedelta(days=30), "office365_default")
    assert not result.ok and result.message.startswith(
        "Der geheime Clientschlüssel von 'office365_default' läuft am 2026-04-01 ab: noch 12 Tage, weniger als die "
        "geforderten 30.")
    assert "So erneuern:\n1. Microsoft Entra Admin Center > App-Registrierungen > openHandwerk-Cloud > Zertifikate & " \
        "Geheimnisse\n2. Neuer geheimer Clientschlüssel (Gültig bis: 24 Monate)" in result.message
