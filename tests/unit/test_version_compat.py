"""One place for every Airflow-line difference: the flags match the running Airflow, the names are
Airflow's own, and no other module imports a moved name from one line's location."""

from __future__ import annotations

import ast
from importlib.metadata import version
from pathlib import Path

from oh_outlook_provider import version_compat as compat

ROOT = Path(__file__).resolve().parents[2]
MOVED = {"BaseHook", "CronTriggerTimetable", "CronDataIntervalTimetable", "AirflowException", "AirflowFailException",
         "TaskDeferred"}
LINE_SPECIFIC = ("airflow.sdk.exceptions", "airflow.hooks.base", "airflow.timetables.trigger",
                 "airflow.timetables.interval")


def test_the_flags_follow_the_installed_airflow():
    major, minor, micro = (int(p) for p in version("apache-airflow").split(".")[:2] + ["0"])
    assert compat.AIRFLOW_VERSION[:2] == (major, minor)
    assert compat.AIRFLOW_V_3_1_PLUS == (minor >= 1) and compat.AIRFLOW_V_3_3_PLUS == (minor >= 3)


def test_the_names_are_the_ones_airflow_itself_uses():
    from airflow.models.taskinstance import TaskInstance  # noqa: F401 - Airflow importable in full

    if compat.AIRFLOW_V_3_2_PLUS:
        import airflow.sdk as sdk
        import airflow.sdk.exceptions as exceptions

        assert compat.BaseHook is sdk.BaseHook and compat.CronTriggerTimetable is sdk.CronTriggerTimetable
    else:
        import airflow.exceptions as exceptions
        from airflow.timetables.trigger import CronTriggerTimetable

        assert compat.CronTriggerTimetable is CronTriggerTimetable
    assert compat.AirflowFailException is exceptions.AirflowFailException and compat.TaskDeferred is exceptions.TaskDeferred
    assert hasattr(compat.BaseHook, "get_connection")
    assert issubclass(compat.AirflowFailException, compat.AirflowException)


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, {a.name for a in node.names}


def test_no_module_imports_a_moved_name_from_one_lines_location():
    sources = [*ROOT.joinpath("oh_outlook_provider").rglob("*.py"), *ROOT.joinpath("dags").glob("*.py")]
    offenders = []
    for path in sources:
        if path.name == "version_compat.py":
            continue
        for module, names in _imports(path):
            if module.startswith(LINE_SPECIFIC) or module == "airflow.sdk" and names & MOVED:
                offenders.append(f"{path.relative_to(ROOT)}: from {module} import {', '.join(sorted(names))}")
    assert offenders == []


def test_the_port_zero_workaround_applies_on_exactly_the_lines_with_airflows_check():
    """The check came in 3.3.1 (`_same_endpoint` in routes/public/connections.py; 3.3.0 has none) and treats 0
    as blank from 3.4.0b2 on (apache/airflow PR 73298); 3.0 to 3.2 have no such check."""
    import inspect

    from airflow.api_fastapi.core_api.routes.public import connections

    source = inspect.getsource(connections)
    refuses = "differs from the stored connection" in source and "value in (None, \"\", 0)" not in source
    assert compat.CONNECTION_TEST_REFUSES_PORT_ZERO == refuses
