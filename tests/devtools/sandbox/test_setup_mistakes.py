"""Issue 22: every failure the setup checklist names, reproduced over the sandbox's HTTP control routes
(`POST /_sandbox/setup-mistakes/<name>`) and as a setting (`/_sandbox/reload` with `mistake`, `serve --mistake`)."""

from __future__ import annotations

import pytest
import requests

from devtools.sandbox import control
from devtools.sandbox.state import CLIENT_ID
from oh_outlook_provider.hooks.settings import office365_settings
from oh_outlook_provider.runners.setup_check import office365_checklist
from tests.conftest import BASE_DATE, connection, fast_retry
from tests.integration.test_setup_check import claims

# mistake -> the checklist step that fails first (runners/setup_check.py; its number in the README's table)
FIRST_FAILED = {
    "calendars_read": "calendars", "no_consent": "consent", "delegated": "type", "secret_id": "secret",
    "expired_secret": "expiry", "unknown_tenant": "tenant", "unknown_app": "application", "no_licence": "mailbox",
    "rbac_excludes_all": "calendars", "policy_blocks_all": "mailbox",
}


def post(server, path: str, body: dict | None = None) -> requests.Response:
    return requests.post(f"{server.base_url}/_sandbox/{path}", json=body, verify=server.ca_path, timeout=10)


def checked_with(server, typed: dict):
    """The checklist of the sandbox's connection with what the admin typed wrong put into it."""
    values = server.office365_connection()
    values = {**values, **{k: v for k, v in typed.items() if k != "extra"},
              "extra": {**values["extra"], **typed.get("extra", {})}}
    from oh_outlook_provider.hooks.office365 import Office365Hook

    return office365_checklist(Office365Hook(settings=office365_settings(connection(values, "office365_default")),
                                             retry_policy=fast_retry()))


def test_every_failure_of_the_checklist_has_a_control():
    assert set(control.MISTAKES) == set(FIRST_FAILED)


@pytest.mark.parametrize("name", list(FIRST_FAILED))
def test_each_control_route_makes_its_step_fail_first(tenant, name):
    answer = post(tenant, f"setup-mistakes/{name}")
    assert answer.status_code == 200, answer.text
    typed = answer.json()["connection"]
    assert bool(typed) == (name in ("secret_id", "unknown_tenant", "unknown_app"))  # only those are typed wrong
    assert checked_with(tenant, typed).first_failed.key == FIRST_FAILED[name]


def test_the_setting_starts_the_tenant_with_the_mistake_and_a_plain_reload_undoes_it(tenant):
    answer = post(tenant, "reload", {"seed": 42, "base_date": BASE_DATE.isoformat(), "mistake": "calendars_read"})
    assert answer.status_code == 200 and answer.json()["connection"] == {}
    assert tenant.state.apps[CLIENT_ID].roles == {"User.Read.All", "Calendars.Read"}
    assert checked_with(tenant, {}).first_failed.key == "calendars"
    post(tenant, "reload", {"seed": 42, "base_date": BASE_DATE.isoformat()})
    assert checked_with(tenant, {}).first_failed is None


def test_the_consent_withheld_gives_a_token_without_roles_over_http(tenant):
    post(tenant, "setup-mistakes/no_consent")
    from tests.conftest import graph_hook

    assert "roles" not in claims(graph_hook(tenant).get_token())


def test_an_unknown_mistake_is_refused_and_the_list_names_each_one(tenant):
    assert post(tenant, "setup-mistakes/typo").status_code == 404
    assert post(tenant, "reload", {"mistake": "typo"}).status_code == 400
    listed = requests.get(f"{tenant.base_url}/_sandbox/setup-mistakes", verify=tenant.ca_path, timeout=10).json()
    assert set(listed) == set(FIRST_FAILED) and all(listed.values())
