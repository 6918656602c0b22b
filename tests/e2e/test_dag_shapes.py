"""What the example DAG files declare, read with Airflow's own DagBag (no run): the fleet's mapped tasks
and their names, and one XCom per task."""

from __future__ import annotations

from pathlib import Path

from tests.airflow_lines import DagBag

DAGS = Path(__file__).resolve().parents[2] / "dags"


def bag():
    dags = DagBag(dag_folder=str(DAGS))
    assert dags.import_errors == {}
    return dags.dags


def test_no_task_splits_its_dict_into_one_xcom_per_key():
    """Bug: `-> dict` makes Airflow push every key as an XCom of its own beside the whole value (multiple_outputs
    inferred from the annotation): more metadata rows per tenant and run, and on 3.0.6 a key holding None is
    refused by the API server (422), failing the fleet's tenant task."""
    for dag in bag().values():
        for task in dag.tasks:
            assert getattr(task, "multiple_outputs", False) is False, (dag.dag_id, task.task_id)


def test_the_fleet_maps_one_task_per_tenant_named_by_it_and_ends_in_its_verdict():
    fleet = bag()["oh_outlook_fleet_sync"]
    assert {t.task_id for t in fleet.tasks} == {"tenants", "tenant", "plan", "large", "sync", "report", "outcome"}
    templates = {t.task_id: getattr(t, "map_index_template", None) for t in fleet.tasks}
    assert templates["tenant"] == templates["report"] == "{{ tenant_label }}"
    assert templates["sync"] == "{{ shard_label }}"
    assert [t.task_id for t in fleet.leaves] == ["outcome"]  # the run's state is the verdict over all tenants
    expiry = bag()["oh_outlook_fleet_secret_expiry"]
    assert not any(t.task_type.endswith("Sensor") for t in expiry.tasks)  # no triggerer slot per tenant
