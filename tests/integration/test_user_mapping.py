"""User mapping against the sandbox: every seeded employee gets the outcome the seed intends."""

from __future__ import annotations

import json

import pytest

from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator, resolve_overrides
from oh_outlook_provider.runners.user_mapping import mapping_table, run_user_mapping
from oh_outlook_provider.version_compat import AirflowFailException
from tests.conftest import graph_hook, oh_hook


@pytest.fixture
def sandbox(tenant):
    """The mapping reads users, employees and one calendar per mailbox probe, the same under both Graph
    behaviour bundles (tests/conftest.py BEHAVIOURS differ only in events, categories and $batch): once each."""
    return tenant


def test_every_seeded_employee_is_classified_as_intended(sandbox):
    result, rejected = run_user_mapping(graph_hook(sandbox), oh_hook(sandbox))
    got = {e.employee_id: e.outcome for e in result.entries}
    assert got == sandbox.state.data.expected_outcomes
    assert rejected == []
    table = mapping_table(result)
    assert "M-009" in table and "several Microsoft 365 users" in table and "admin@" not in table
    assert max(map(len, table.splitlines())) <= 100  # the log view shows about 100 characters (issue 13 item 6)
    assert "marie.richter11@mueller-haustechnik.de" in table


def test_without_probes_the_blocked_mailbox_looks_matched(sandbox):
    result, _ = run_user_mapping(graph_hook(sandbox), oh_hook(sandbox), verify_mailboxes=False)
    assert {e.employee_id: e.outcome for e in result.entries}["M-010"] == "matched"


def test_override_resolves_the_ambiguous_address(sandbox):
    result, _ = run_user_mapping(graph_hook(sandbox), oh_hook(sandbox), {"buero@mueller-haustechnik.de":
                                                                          "petra.jung@mueller-haustechnik.de"})
    assert result.mapping()["M-009"]["upn"] == "petra.jung@mueller-haustechnik.de"


def test_operator_runs_with_airflow_connections(sandbox, monkeypatch):
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    out = Office365UserMappingOperator(task_id="map", overrides='{"M-005": "admin@mueller-haustechnik.de"}').execute({})
    json.dumps(out)
    assert out["counts"]["matched"] == 7 and out["mapping"]["M-005"]["upn"] == "admin@mueller-haustechnik.de"


def test_operator_fails_clearly_when_nothing_matches(sandbox, monkeypatch):
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    sandbox.state.apps[next(iter(sandbox.state.apps))].policy_user_ids = set()  # policy blocks every mailbox
    with pytest.raises(AirflowFailException, match="None of 12 employees"):
        Office365UserMappingOperator(task_id="map").execute({})


def test_overrides_from_a_variable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OH_OVERRIDES", '{"M-1": "x@y.de"}')
    assert resolve_overrides("oh_overrides") == {"M-1": "x@y.de"}
    assert resolve_overrides({"a": 1}) == {"a": "1"} and resolve_overrides(None) == {}
