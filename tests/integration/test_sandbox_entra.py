"""Real msal against the sandbox's Entra ID over HTTPS: secrets, certificates, AADSTS errors."""

from __future__ import annotations

import pytest

from oh_outlook_provider import errors
from oh_outlook_provider.sandbox import control
from oh_outlook_provider.sandbox.tls import make_client_certificate
from tests.conftest import graph_hook


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
