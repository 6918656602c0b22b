"""The tenant registry: JSON in an Airflow Variable, each wrong entry named and kept apart."""

from __future__ import annotations

import json

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.i18n import speaking
from oh_outlook_provider.runners import tenants
from oh_outlook_provider.runners.tenants import Tenant, check_map_length, parse_registry


def test_a_minimal_entry_gets_its_connections_from_its_key_and_the_operators_defaults():
    [tenant] = parse_registry([{"key": "mueller", "name": "Müller Haustechnik GmbH"}])
    assert (tenant.office365_conn_id, tenant.openhandwerk_conn_id) == ("office365_mueller", "openhandwerk_mueller")
    assert tenant.problem is None and not tenant.paused and tenant.label == "Müller Haustechnik GmbH (mueller)"
    assert (tenant.past_days, tenant.future_days, tenant.mailboxes_per_shard, tenant.min_valid_days) == (7, 90, 50, 30)


def test_options_and_the_tenants_wrapper_and_json_text_are_read():
    text = json.dumps({"tenants": [{"key": "schmidt", "name": "Elektro Schmidt", "language": "en", "paused": True,
                                    "office365_conn_id": "o365_schmidt", "calendar_name": "Einsätze",
                                    "overrides": {"M-1": "a@b.de"}, "include_categories": ["Baustelle"],
                                    "mailboxes_per_shard": 25}]})
    [tenant] = parse_registry(text)
    assert tenant.office365_conn_id == "o365_schmidt" and tenant.openhandwerk_conn_id == "openhandwerk_schmidt"
    assert (tenant.language, tenant.paused, tenant.calendar_name, tenant.mailboxes_per_shard) == ("en", True,
                                                                                                 "Einsätze", 25)
    assert dict(tenant.overrides) == {"M-1": "a@b.de"} and Tenant.from_dict(tenant.to_dict()) == tenant


def test_a_wrong_entry_is_named_with_every_reason_and_the_others_are_untouched():
    registry = parse_registry([
        {"key": "ok-1", "name": "Gut GmbH"},
        {"key": "Böse Firma", "name": "Böse", "shards": 3, "future_days": 0},
        {"name": "Ohne Schlüssel"},
        "not an object",
        {"key": "ok-2", "name": "Auch gut"},
    ])
    assert [t.problem is None for t in registry] == [True, False, False, False, True]
    bad = registry[1]
    assert bad.name == "Böse" and "key" in bad.problem and "future_days" in bad.problem and "shards" in bad.problem
    assert registry[2].name == "Ohne Schlüssel" and "'key' is a required property" in registry[2].problem
    assert registry[3].key == "entry-4"
    assert len({t.key for t in registry}) == 5  # every task of the fleet gets its own name


def test_a_duplicate_key_or_a_shared_connection_is_refused_for_the_later_tenant():
    registry = parse_registry([
        {"key": "a", "name": "A"},
        {"key": "a", "name": "A again"},
        {"key": "b", "name": "B", "office365_conn_id": "office365_a"},
    ])
    assert registry[0].problem is None
    assert "used by an earlier tenant" in registry[1].problem and registry[1].key == "a-2"
    assert "office365_a" in registry[2].problem and "'a'" in registry[2].problem


def test_german_reasons_when_the_admin_reads_german():
    with speaking("de"):
        [_, second] = parse_registry([{"key": "a", "name": "A"}, {"key": "a", "name": "B"}])
    assert "wird schon von einem früheren Mandanten verwendet" in second.problem


@pytest.mark.parametrize("value", ["{not json", json.dumps({"a": 1}), json.dumps(3)])
def test_an_unreadable_registry_fails_as_a_whole_naming_the_variable(value):
    with pytest.raises(ConfigurationError, match="oh_outlook_tenants"):
        parse_registry(value)


def test_without_the_variable_the_registry_is_the_single_default_business(monkeypatch):
    from airflow.sdk import Variable

    # Outside a task, Airflow 3.0's Variable.get asks the supervisor once no backend has the key: the
    # missing Variable is given here as what every line answers inside a task, the default.
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None, **_: default))
    [tenant] = tenants.load_registry()
    assert (tenant.key, tenant.office365_conn_id, tenant.openhandwerk_conn_id) == ("default", "office365_default",
                                                                                   "openhandwerk_default")
    monkeypatch.undo()


def test_the_registry_is_read_from_the_variable_through_airflows_secrets_backends(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OH_OUTLOOK_TENANTS", json.dumps([{"key": "x", "name": "X"}]))
    assert [t.key for t in tenants.load_registry()] == ["x"]


def test_more_tenants_than_airflow_maps_name_the_setting_to_raise():
    check_map_length(1024, 1024)
    with pytest.raises(ConfigurationError, match="max_map_length.*2000|2000.*max_map_length"):
        check_map_length(2000, 1024)
