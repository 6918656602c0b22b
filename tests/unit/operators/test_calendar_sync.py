"""Office365CalendarSyncOperator at DAG-parse time: bad arguments fail the parse, templates wait for rendering."""

from __future__ import annotations

import datetime as dt

import pytest

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator


def operator(**kw) -> Office365CalendarSyncOperator:
    return Office365CalendarSyncOperator(task_id="sync", mapping={"mapping": {}}, **kw)


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"on_outlook_edit": "merge"}, ValueError, "on_outlook_edit must be one of"),
    ({"max_delete_fraction": 1.5}, ValueError, "max_delete_fraction"),
    ({"show_as_map": {"Urlaub": "away"}}, ConfigurationError, "Outlook knows"),
    ({"sensitivity_map": '{"Arzt": "secret"}'}, ConfigurationError, "sensitivity for category 'Arzt'"),
    ({"category_colors": {"Baustelle": "orange"}}, ConfigurationError, "category colour"),
    ({"include_categories": "[Wartung"}, ConfigurationError, "not a valid JSON list"),
    ({"map_url": "http://maps.example/?q={query}"}, ConfigurationError, "https://"),
    ({"category_map": "{"}, ConfigurationError, "category_map map is not valid JSON"),
])
def test_bad_arguments_fail_when_the_dag_is_parsed(kw, error, message):
    with pytest.raises(error, match=message):
        operator(**kw)


def test_templated_arguments_are_checked_only_after_rendering():
    op = operator(on_outlook_edit="{{ params.policy }}", show_as_map="{{ params.show_as }}",
                  include_categories="{{ params.kinds }}", map_url="{{ var.value.map_url }}")
    assert op.on_outlook_edit == "{{ params.policy }}"
    for name in ("on_outlook_edit", "show_as_map", "include_categories", "map_url", "mapping", "dry_run"):
        assert name in Office365CalendarSyncOperator.template_fields


def test_the_selection_and_kind_maps_follow_the_arguments():
    op = operator(include_categories="Wartung, Montage", exclude_statuses=["angeboten"],
                  show_as_map={"Baustelle": "tentative"})
    selection = op._selection()
    assert selection.include_categories == frozenset({"wartung", "montage"})
    assert selection.exclude_statuses == frozenset({"angeboten"}) and selection.include_statuses is None
    show_as, sensitivity, colors = op._kind_maps()
    assert show_as["baustelle"] == "tentative" and show_as["urlaub"] == "oof"
    assert sensitivity["urlaub"] == "private" and colors


def test_the_window_comes_from_the_arguments_or_the_run():
    a, b = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
    assert operator(window_start="2026-03-01", window_end="2026-03-08").window({}).start == a
    interval = operator().window({"data_interval_start": a, "data_interval_end": b})
    assert (interval.start, interval.end) == (a, b)
    rolling = operator(past=1, future="2").window({})
    assert rolling.end - rolling.start == dt.timedelta(days=3)
