"""requests-mock wiring for Entra ID and Graph (global cloud)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from oh_outlook_provider.hooks.office365 import Office365Hook
from oh_outlook_provider.hooks.retry import RetryPolicy
from oh_outlook_provider.hooks.settings import office365_settings

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "Zz8~very-secret-value-do-not-log"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"
DISCOVERY = f"{AUTHORITY}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"{AUTHORITY}/oauth2/v2.0/token"
GRAPH = "https://graph.microsoft.com/v1.0"


def make_hook(sleeps: list | None = None, **extra) -> Office365Hook:
    conn = SimpleNamespace(conn_id="office365_default", login=CLIENT, password=SECRET,
                           extra=json.dumps({"tenant_id": TENANT, **extra}))
    policy = RetryPolicy(max_attempts=5, backoff_base=0.5, wait_budget=100, retry_after_jitter=0,
                         sleep=(sleeps.append if sleeps is not None else (lambda s: None)))
    return Office365Hook(settings=office365_settings(conn), retry_policy=policy)


def mock_entra(m, tokens=("token-one", "token-two", "token-three")) -> None:
    m.get(DISCOVERY, json={"token_endpoint": TOKEN_URL, "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                           "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0"})
    # On a token error msal looks up authority aliases (instance discovery) before giving up.
    m.get("https://login.microsoftonline.com/common/discovery/instance", json={"metadata": []})
    m.post(TOKEN_URL, [{"json": {"access_token": t, "expires_in": 3600, "token_type": "Bearer"}} for t in tokens])


def token_calls(m) -> int:
    return sum(1 for r in m.request_history if r.url.startswith(TOKEN_URL))


def graph_calls(m) -> list:
    return [r for r in m.request_history if r.url.startswith(GRAPH)]
