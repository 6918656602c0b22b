"""The sandbox's connections against the provider's connection form (they need the emulator: not unit tests)."""

from __future__ import annotations

import pytest

from devtools.sandbox import SandboxServer
from devtools.sandbox.state import SandboxState
from oh_outlook_provider.get_provider_info import get_provider_info

pytestmark = pytest.mark.sandbox


def test_the_sandbox_connections_carry_every_form_field():
    """Issue 13 item 2: `make airflow` stores them, and the edit form shows only the keys a connection has."""
    server = SandboxServer(SandboxState(seed=1))
    kinds = {k["connection-type"]: set(k["conn-fields"]) for k in get_provider_info()["connection-types"]}
    assert set(server.office365_connection()["extra"]) == kinds["office365"]
    assert set(server.openhandwerk_connection()["extra"]) == kinds["openhandwerk"]


def test_no_extra_value_of_our_connections_is_short_enough_for_airflows_masker_to_warn(shared_sandbox):
    """Issue 13 item 5: Airflow hands every extra value to its secrets masker, which logs 'Skipping masking
    for a secret as it's too short' for a text under 5 characters: none of ours is, by default."""
    shortest = 5  # Airflow's [logging] min_length_masked_secret default
    for data in (shared_sandbox.office365_connection(), shared_sandbox.openhandwerk_connection()):
        short = {k: v for k, v in data["extra"].items() if isinstance(v, str) and v and len(v) < shortest}
        assert short == {}, short


def test_the_sandbox_connections_pass_the_check_of_every_field_with_no_unknown_key(shared_sandbox, caplog):
    """Issue 26: what `make airflow` stores (every field, empty ones as "" or None) is read without a complaint."""
    from oh_outlook_provider.hooks.settings import office365_settings, openhandwerk_settings
    from tests.conftest import connection

    with caplog.at_level("WARNING"):
        office = office365_settings(connection(shared_sandbox.office365_connection(), "office365_default"))
        oh = openhandwerk_settings(connection(shared_sandbox.openhandwerk_connection(), "openhandwerk_default"))
    assert "are ignored" not in caplog.text
    assert office.timeout == 60 and office.calendar_name is None and oh.page_size == 200 and oh.paths == {}
