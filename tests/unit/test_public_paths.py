"""Paths users and Airflow's database hold do not move: a DAG written against 0.1/0.2 still parses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

OLD_DAG = textwrap.dedent('''
    import pendulum
    from airflow.sdk import DAG

    from oh_outlook_provider.assets import calendars_asset
    from oh_outlook_provider.errors import ConfigurationError, GraphError, OhOutlookError
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
    from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator
    from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator
    from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
    from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor

    assert issubclass(GraphError, OhOutlookError) and issubclass(ConfigurationError, OhOutlookError)
    with DAG("written_for_0_2", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        expiry = Office365SecretExpirySensor(task_id="expiry")
        mapping = Office365UserMappingOperator(task_id="map_users")
        read = OpenHandwerkAppointmentsOperator(task_id="read")
        sync = Office365CalendarSyncOperator(task_id="sync", mapping=mapping.output, appointments=read.output,
                                             outlets=[calendars_asset()])
        expiry >> mapping >> read >> sync
''')


def test_a_dag_written_against_the_old_paths_still_parses(tmp_path):
    from tests.airflow_lines import DagBag

    (tmp_path / "old_dag.py").write_text(OLD_DAG)
    bag = DagBag(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    assert set(bag.dags["written_for_0_2"].task_dict) == {"expiry", "map_users", "read", "sync"}


def test_the_old_error_module_warns_and_names_the_new_one():
    code = ("import warnings; warnings.simplefilter('always');\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    import oh_outlook_provider.errors as e\n"
            "print(e.SecretExpiredError.__module__, [str(w.message) for w in caught if w.category is DeprecationWarning])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("oh_outlook_provider.exceptions") and "oh_outlook_provider.exceptions" in out.split(" ", 1)[1]


def test_registered_classpaths_and_entry_points_stay():
    from importlib.metadata import entry_points

    from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger

    assert SecretExpiryTrigger.__module__ == "oh_outlook_provider.triggers.secret_expiry"  # stored in the trigger table
    provider = [e for e in entry_points(group="apache_airflow_provider") if e.name == "provider_info"
                and e.value.startswith("oh_outlook_provider")]
    plugins = [e for e in entry_points(group="airflow.plugins") if e.name == "oh_outlook_provider"]
    assert len(provider) == 1 and provider[0].load()()["package-name"] == "oh-outlook-provider"
    assert len(plugins) == 1 and plugins[0].load().__name__ == "OhOutlookPlugin"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import oh_outlook_provider.get_provider_info  # noqa: F401 - the new home warns nothing
