"""Issue 14 item 7: each successful sync tells downstream DAGs, with its counts."""

from __future__ import annotations

from airflow.sdk import Asset

from oh_outlook_provider.assets import announce, calendars_asset


def test_one_asset_per_openhandwerk_connection():
    assert calendars_asset().uri == "oh-outlook://openhandwerk_default/calendars"
    assert calendars_asset("oh_filiale_koeln").name == "oh_outlook_calendars__oh_filiale_koeln"
    assert calendars_asset() == calendars_asset()  # the same asset in every DAG file that names it


def test_the_counts_go_on_the_events_of_asset_outlets_only():
    from airflow.sdk.execution_time.context import OutletEventAccessors

    events = OutletEventAccessors()  # what a task run's context holds, on every Airflow line
    other = "a task-level outlet that is not an asset"  # skipped: Airflow's accessors take assets only
    announce({"outlet_events": events}, [calendars_asset(), other], {"create": 3, "rejected": 2},
             {"start": "2026-03-01T00:00:00+00:00", "end": "2026-03-02T00:00:00+00:00"}, 40)
    assert events[calendars_asset()].extra == {
        "totals": {"create": 3, "rejected": 2}, "appointments": 40,
        "window": {"start": "2026-03-01T00:00:00+00:00", "end": "2026-03-02T00:00:00+00:00"}}
    assert isinstance(calendars_asset(), Asset)
    announce({}, [calendars_asset()], {}, None)  # outside a task run: nothing to do
