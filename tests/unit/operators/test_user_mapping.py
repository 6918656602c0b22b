"""Office365UserMappingOperator: overrides in every form a DAG passes them, and how a run ends."""

from __future__ import annotations

import json

import pytest

from oh_outlook_provider.exceptions import AuthenticationError, ConfigurationError, GraphError, ThrottledError
from oh_outlook_provider.hooks import office365, openhandwerk
from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator, resolve_overrides
from oh_outlook_provider.runners import user_mapping as runner
from oh_outlook_provider.sync.mapping import MATCHED, NO_USER, MappingEntry, MappingResult
from oh_outlook_provider.sync.models import Rejected
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException


def test_overrides_from_a_dict_json_or_nothing():
    assert resolve_overrides(None) == {} == resolve_overrides("") == resolve_overrides({})
    assert resolve_overrides({"M-1": 7}) == {"M-1": "7"}
    assert resolve_overrides(' {"M-1": "jan@firma.de"} ') == {"M-1": "jan@firma.de"}
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        resolve_overrides("{M-1: jan}")


def test_overrides_from_an_airflow_variable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OH_OVERRIDES", json.dumps({"M-1": "jan@firma.de"}))
    assert resolve_overrides("oh_overrides") == {"M-1": "jan@firma.de"}
    monkeypatch.setenv("AIRFLOW_VAR_OH_LIST", json.dumps(["jan@firma.de"]))
    with pytest.raises(ConfigurationError, match="Variable 'oh_list' must hold a JSON object"):
        resolve_overrides("oh_list")


@pytest.fixture
def run(monkeypatch):
    """The operator with its hooks and the runner replaced: `run.result` is what the runner returns."""
    calls = []

    class Run:
        result: MappingResult | Exception = MappingResult((), 0, 0)
        rejected: list[Rejected] = []

    def fake_run_user_mapping(graph, oh, overrides, verify, workers):
        calls.append((graph, oh, overrides, verify, workers))
        if isinstance(Run.result, Exception):
            raise Run.result
        return Run.result, Run.rejected

    monkeypatch.setattr(office365, "Office365Hook", lambda conn_id: f"graph:{conn_id}")
    monkeypatch.setattr(openhandwerk, "OpenHandwerkHook", lambda conn_id: f"oh:{conn_id}")
    monkeypatch.setattr(runner, "run_user_mapping", fake_run_user_mapping)
    Run.calls = calls
    return Run


def entry(emp_id: str, outcome: str) -> MappingEntry:
    return MappingEntry(emp_id, f"Employee {emp_id}", f"{emp_id}@firma.de", outcome,
                        user_id="u-" + emp_id if outcome == MATCHED else None,
                        upn=f"{emp_id}@firma.de" if outcome == MATCHED else None)


def test_the_result_carries_the_mapping_and_the_rejected_records(run, capsys):
    run.result = MappingResult((entry("1", MATCHED), entry("2", NO_USER)), 3, 2)
    run.rejected = [Rejected("9", "no id", kind="employee")]
    op = Office365UserMappingOperator(task_id="map", office365_conn_id="o", openhandwerk_conn_id="h",
                                      overrides='{"2": "x@firma.de"}', verify_mailboxes=False, max_workers=2)
    out = op.execute({})
    assert run.calls == [("graph:o", "oh:h", {"2": "x@firma.de"}, False, 2)]
    assert set(out["mapping"]) == {"1"} and out["rejected_employees"] == [{"record_id": "9", "reason": "no id"}]
    assert "User mapping:" in capsys.readouterr().out


def test_no_employee_matched_fails_with_the_likely_causes(run):
    run.result = MappingResult((entry("1", NO_USER), entry("2", NO_USER)), 5, 5)
    with pytest.raises(AirflowFailException, match="None of 2 employees could be matched.*wrong Tenant ID"):
        Office365UserMappingOperator(task_id="map").execute({})


def test_no_employees_at_all_is_not_a_failure(run):
    run.result = MappingResult((), 5, 5)
    assert Office365UserMappingOperator(task_id="map").execute({})["mapping"] == {}


def test_our_errors_fail_the_task_with_their_message(run):
    run.result = AuthenticationError("AADSTS7000215: the client secret is wrong", "AADSTS7000215")
    with pytest.raises(AirflowFailException, match="AADSTS7000215"):
        Office365UserMappingOperator(task_id="map").execute({})


@pytest.mark.parametrize("error", [ThrottledError("Graph throttled the app (429)", 429), GraphError("Graph is down", 503),
                                   GraphError("Gateway timeout", 504)])
def test_a_transient_error_during_the_mapping_is_retried_by_airflow(run, error):
    """Issue 21: a 429 or 5xx during the mapping failed the task for good (AirflowFailException)."""
    run.result = error
    with pytest.raises(AirflowException) as raised:
        Office365UserMappingOperator(task_id="map").execute({})
    assert type(raised.value) is AirflowException and str(error) in str(raised.value)
