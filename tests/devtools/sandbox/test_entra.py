"""Real msal against the sandbox's Entra ID over HTTPS: secrets, certificates, AADSTS errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from devtools.sandbox import control
from devtools.sandbox.state import CLIENT_ID, CLIENT_SECRET, SECRET_ID
from devtools.sandbox.tls import make_client_certificate
from oh_outlook_provider import exceptions as errors
from tests.conftest import graph_hook


@pytest.fixture
def sandbox(tenant):
    """Entra ID's answers (tokens, AADSTS errors, the application object) are the same under both Graph
    behaviour bundles (tests/conftest.py BEHAVIOURS differ only in events, categories and $batch): once each."""
    return tenant


def test_msal_gets_a_token_with_the_secret_and_reuses_it(sandbox):
    hook = graph_hook(sandbox)
    token = hook.get_token()
    assert hook.get_token() == token
    assert sandbox.state.stats()["token_requests"] == 1


def test_msal_gets_a_token_with_a_certificate(sandbox):
    key, cert, thumbprint = make_client_certificate()
    control.register_certificate(sandbox.state, cert, thumbprint)
    hook = graph_hook(sandbox, certificate_private_key=key + cert, certificate_thumbprint=thumbprint)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": None})
    assert hook.get("/users", params={"$top": "1"})["value"]
    assert hook.credential_valid_until() is not None


def test_certificate_not_registered_is_refused(sandbox):
    key, cert, thumbprint = make_client_certificate()
    hook = graph_hook(sandbox, certificate_private_key=key, certificate_thumbprint=thumbprint)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": None})
    with pytest.raises(errors.AuthenticationError):
        hook.get_token()


def test_wrong_secret_gives_7000215(sandbox):
    hook = graph_hook(sandbox)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": "3c9f1a2b-secret-id"})
    with pytest.raises(errors.AuthenticationError) as exc:
        hook.get_token()
    assert exc.value.code == "AADSTS7000215" and "Secret ID" in str(exc.value)


def test_expired_secret_gives_7000222(sandbox):
    control.expire_secret(sandbox.state)
    with pytest.raises(errors.SecretExpiredError):
        graph_hook(sandbox).get_token()


def test_unknown_app_gives_700016(sandbox):
    hook = graph_hook(sandbox)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_id": "99999999-0000-0000-0000-000000000000"})
    with pytest.raises(errors.AuthenticationError) as exc:
        hook.get_token()
    assert exc.value.code == "AADSTS700016"


def test_unknown_tenant_is_explained(sandbox):
    hook = graph_hook(sandbox, tenant_id="00000000-dead-beef-0000-000000000000")
    with pytest.raises(errors.AuthenticationError) as exc:
        hook.get_token()
    assert exc.value.code == "AADSTS90002" and "Mandanten-ID" in str(exc.value)


def test_rejected_access_token_is_replaced_once(sandbox):
    hook = graph_hook(sandbox)
    hook.get("/users", params={"$top": "1"})
    sandbox.state.signing_key += "-rotated"  # Graph no longer accepts the token msal still holds
    assert hook.get("/users", params={"$top": "1"})["value"]
    assert sandbox.state.stats()["token_requests"] == 2


def test_configured_ca_wins_over_requests_ca_bundle(sandbox, monkeypatch, tmp_path):
    """requests lets REQUESTS_CA_BUNDLE override Session.verify; our sessions must keep the connection's CA."""
    unrelated = tmp_path / "other-ca.pem"
    unrelated.write_text((tmp_path / "x").as_posix())  # not a CA at all
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(unrelated))
    hook = graph_hook(sandbox)
    assert hook.get("/users", params={"$top": "1"})["value"]


# ---------------------------------------------------------------------- K2: the expiry Entra knows
def test_k2_the_application_object_needs_application_read_all(sandbox):
    hook = graph_hook(sandbox)
    with pytest.raises(errors.PermissionMissingError, match="Application.Read.All"):
        hook.get(f"/applications(appId='{CLIENT_ID}')")
    control.grant(sandbox.state, "Application.Read.All")
    app = graph_hook(sandbox).get(f"/applications(appId='{CLIENT_ID}')",
                                  params={"$select": "passwordCredentials,keyCredentials"})
    assert [(c["keyId"], c["hint"], c["secretText"]) for c in app["passwordCredentials"]] == [
        ("9d8c7b6a-0000-4000-8000-00000000a5e1", "old", None), (SECRET_ID, CLIENT_SECRET[:3], None)]
    assert set(app) == {"id", "passwordCredentials", "keyCredentials"}
    with pytest.raises(errors.GraphError) as unknown:
        graph_hook(sandbox).get(f"/applications(appId='{CLIENT_ID}')", params={"$select": "secrets"})
    assert unknown.value.status == 400
    with pytest.raises(errors.NotFoundError):
        graph_hook(sandbox).get("/applications(appId='99999999-0000-4000-8000-000000000000')")


def test_without_the_permission_the_typed_date_is_kept_and_the_test_says_how_to_read_the_real_one(sandbox):
    expiry = graph_hook(sandbox).watched_expiry()
    assert (expiry.source, expiry.readable, expiry.note) == ("the connection", False, None)
    ok, message = graph_hook(sandbox).test_connection()
    assert ok and "12. OPTIONAL Application.Read.All (optional)" in message  # the checklist's line (issue 22)


def test_with_the_permission_entras_date_is_watched_and_a_wrong_typed_date_is_reported(sandbox):
    control.grant(sandbox.state, "Application.Read.All")
    typed = graph_hook(sandbox).credential_valid_until()
    agreed = graph_hook(sandbox).watched_expiry()
    assert (agreed.valid_until, agreed.source, agreed.note) == (typed, "Entra", None)  # the guide's date, confirmed
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    control.set_secret_expiry(sandbox.state, soon, CLIENT_SECRET)  # e.g. created with "6 Monate" long ago
    admin_typed = {"credential_valid_until": typed.isoformat()}  # what the connection still says
    watched = graph_hook(sandbox, **admin_typed).watched_expiry()
    assert watched.valid_until == soon.astimezone(ZoneInfo("Europe/Berlin")).date() != typed
    assert f"says the client secret is valid until {typed}" in watched.note and SECRET_ID in watched.note
    ok, message = graph_hook(sandbox, **admin_typed).test_connection()
    assert ok and "date from Entra" in message and "Correct 'Client secret valid until'" in message
    assert CLIENT_SECRET[:3] not in message.replace(CLIENT_ID, "")


def test_a_certificate_is_found_by_its_thumbprint(sandbox):
    control.grant(sandbox.state, "Application.Read.All")
    key, cert, thumbprint = make_client_certificate(days=200)
    control.register_certificate(sandbox.state, cert, thumbprint)
    hook = graph_hook(sandbox, certificate_private_key=key + cert, certificate_thumbprint=thumbprint)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": None, "valid_until": None})
    expiry = hook.watched_expiry()
    assert expiry.source == "Entra" and expiry.valid_until == hook.credential_valid_until()


def test_the_sensor_watches_entras_date_and_warns_about_the_typed_one(sandbox, monkeypatch, capsys):
    """Issue 14 item 6: the connection says two years, Entra says 10 days: the sensor waits and says why."""
    from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor

    for key, value in sandbox.environment().items():  # typed: the date the admin center showed at setup
        monkeypatch.setenv(key, value)
    control.grant(sandbox.state, "Application.Read.All")
    sensor = Office365SecretExpirySensor(task_id="s", min_valid_for=dt.timedelta(days=30))
    assert sensor.poke({})
    control.set_secret_expiry(sandbox.state, dt.datetime.now(dt.UTC) + dt.timedelta(days=10), CLIENT_SECRET)
    assert not sensor.poke({})
    logged = capsys.readouterr().out
    assert "less than the required 30" in logged and "watching Entra's date" in logged
    assert CLIENT_SECRET not in logged
