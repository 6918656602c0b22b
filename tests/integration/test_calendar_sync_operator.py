"""The Airflow operator around the sync: window from the context, mapping forms, failure at the end."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator, mapping_of
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.tags import KEY_PROP
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException
from tests.integration.sync_helpers import mapping_for, ours


class FakeTI:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


@pytest.fixture
def env(sandbox, monkeypatch):
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    return sandbox


def test_data_interval_is_the_window(env):
    mapping = mapping_for(env)
    start = dt.datetime(2026, 3, 23, 23, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    op = Office365CalendarSyncOperator(task_id="s", mapping={"mapping": mapping})
    summary = op.execute({"data_interval_start": start, "data_interval_end": end, "run_id": "backfill__x"})
    assert summary["window"] == {"start": start.isoformat(), "end": end.isoformat()}
    day = Window(start, end)
    assert sum(ours(env, day).values()) == summary["totals"]["create"] == len(ours(env, None))


def test_rolling_window_when_interval_is_empty_and_templated_values(env):
    op = Office365CalendarSyncOperator(task_id="s", mapping=str({"mapping": mapping_for(env)}), past="3",
                                       future="10", dry_run="True")
    now = dt.datetime.now(dt.UTC)
    summary = op.execute({"data_interval_start": now, "data_interval_end": now})
    start = dt.datetime.fromisoformat(summary["window"]["start"])
    assert abs((now - start) - dt.timedelta(days=3)) < dt.timedelta(minutes=1) and summary["dry_run"]


def test_failed_mailbox_fails_the_task_after_the_others(env):
    mapping = mapping_for(env)
    mapping["M-999"] = {"user_id": "does-not-exist", "upn": "ghost@mueller-haustechnik.de"}
    ti = FakeTI()
    with pytest.raises(AirflowException, match="ghost@mueller-haustechnik.de"):
        Office365CalendarSyncOperator(task_id="s", mapping=mapping, window_start="2026-03-13T00:00:00Z",
                                      window_end="2026-04-19T00:00:00Z").execute({"ti": ti})
    summary = ti.pushed["summary"]
    assert summary["totals"]["create"] > 0 and list(summary["failed"]) == ["does-not-exist"]


def test_a_run_where_every_mailbox_was_refused_fails_without_retries_instead_of_looking_green(env):
    """An application access policy (or Calendars.Read instead of ReadWrite) refuses every mailbox: nothing
    was synced, so the task fails with the first reason and announces nothing, as the fleet's tenant task does."""
    mapping = mapping_for(env)
    env.state.apps[next(iter(env.state.apps))].policy_user_ids = set()  # the policy blocks every mailbox
    context = {"ti": FakeTI()}
    with pytest.raises(AirflowFailException, match="Every mailbox was refused, nothing was synced; first: .*denied"):
        Office365CalendarSyncOperator(task_id="s", mapping=mapping, window_start="2026-03-13T00:00:00Z",
                                      window_end="2026-04-19T00:00:00Z").execute(context)
    assert not ours(env, None)


def test_bad_arguments_fail_at_parse_time():
    with pytest.raises(ValueError, match="on_outlook_edit"):
        Office365CalendarSyncOperator(task_id="s", mapping={}, on_outlook_edit="merge")
    assert mapping_of('{"mapping": {"M-1": {"user_id": "u"}}}') == {"M-1": {"user_id": "u"}}


@pytest.mark.parametrize("sandbox", ["graph-4-at-a-time"], indirect=True)
def test_negative_days_are_refused_not_silently_moving_the_window(env):
    """Issue 13 item 8: past_days = -5 moved the window's start five days into the future."""
    from oh_outlook_provider.version_compat import AirflowFailException

    op = Office365CalendarSyncOperator(task_id="s", mapping={"mapping": {}}, past="-5", future="10")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(AirflowFailException, match=r"past \(days back\) is -5: give a number of days of 0 or more"):
        op.execute({"data_interval_start": now, "data_interval_end": now})


def test_a_successful_day_announces_its_counts_on_the_calendars_asset(env):
    """Issue 14 item 7: the backfill's sync_day has the asset as outlet; its event carries the counts."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from oh_outlook_provider.assets import calendars_asset

    start = dt.datetime(2026, 3, 23, 23, tzinfo=dt.UTC)
    events = OutletEventAccessors()  # what a task run's context holds, on every Airflow line
    op = Office365CalendarSyncOperator(task_id="sync_day", mapping=mapping_for(env), outlets=[calendars_asset()])
    summary = op.execute({"data_interval_start": start, "data_interval_end": start + dt.timedelta(days=1),
                          "outlet_events": events})
    extra = events[calendars_asset()].extra
    assert extra["totals"] == summary["totals"] and extra["totals"]["create"] > 0
    assert extra["window"]["start"] == start.isoformat()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"exclude_categories": 5}, "exclude_categories must be a list of names"),
    ({"include_statuses": "[geplant"}, "include_statuses is not a valid JSON list"),
    ({"map_url": "http://maps.example/?q={query}"}, "must be an https:// URL with {query}"),
    ({"map_url": "https://maps.example/?q={ort}"}, "may hold only the placeholder {query}"),
    ({"category_colors": {"Baustelle": "orange"}}, "category colour for category 'Baustelle' is 'orange'; "
                                                   "Outlook knows none, preset0"),
    ({"category_map": "[1, 2]"}, "category_map map must be a dict"),
])
def test_bad_selections_and_map_links_fail_at_parse_time(kwargs, message):
    from oh_outlook_provider.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Office365CalendarSyncOperator(task_id="s", mapping={}, **kwargs)


@pytest.mark.parametrize("sandbox", ["graph-4-at-a-time"], indirect=True)
def test_selection_and_map_link_as_templates_render(env):
    """Templated params arrive as text: "Wartung, Aufmaß" and a JSON list both work; "" turns the route link off."""
    mapping = mapping_for(env)
    window = {"window_start": "2026-03-13T00:00:00Z", "window_end": "2026-04-19T00:00:00Z"}
    summary = Office365CalendarSyncOperator(task_id="s", mapping=mapping, exclude_categories="Wartung, Aufmaß",
                                            include_statuses='["geplant"]', map_url="", **window).execute({})
    wanted = {r["id"] for r in env.state.appointments.values()
              if r.get("category") not in ("Wartung", "Aufmaß") and r.get("status") == "geplant"}
    keys = [e["_props"][KEY_PROP].split("|")[1] for events in env.state.events.values() for e in events.values()
            if KEY_PROP in e["_props"]]
    assert keys and set(keys) <= wanted and summary["excluded"] > 0
    assert not any("Route:" in e["body"]["content"] for events in env.state.events.values() for e in events.values())


@pytest.mark.parametrize("sandbox", ["graph-4-at-a-time"], indirect=True)
def test_the_task_log_fits_the_log_view(env, capsys):
    """Airflow's log view does not wrap and shows about WIDTH characters after a row's timestamp and
    level (the browser suite's screenshot of the sync's log): every line of the operator's messages fits."""
    from oh_outlook_provider.runners.log_lines import WIDTH

    Office365CalendarSyncOperator(task_id="s", mapping=mapping_for(env), window_start="2026-03-13T00:00:00Z",
                                  window_end="2026-04-19T00:00:00Z").execute({})
    logged = capsys.readouterr().out  # Airflow's task logger (structlog) writes to stdout here
    assert "Category colours" in logged and "left out by the selection" in logged
    for line in logged.splitlines():
        if "outside of the Task Runner" in line:  # Airflow's own, only here (tests call execute() directly)
            continue
        line = re.sub(r" \[airflow\.task[^\]]*\] loc=\S+$", "", line)  # structlog's console suffix, not in the UI
        # structlog's console rows (3.1 on), or logging's "[time] {file:line} LEVEL - " (3.0)
        head = re.match(r"^\S+Z \[\w+\s*\] |^\[\S+\] \{\S+\} \w+ - ", line)
        assert len(line[head.end():] if head else line) <= WIDTH, line
