"""Helpers for sync tests: run a sync against the sandbox and compare calendars with the desired state."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter

from devtools.sandbox.shown import render_event
from oh_outlook_provider.openhandwerk.api import parse_appointment
from oh_outlook_provider.runners.calendar_sync import CalendarSync, SyncOptions
from oh_outlook_provider.runners.user_mapping import run_user_mapping
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.desired import desired_state
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.plan import PlanPolicy
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.tags import KEY_PROP, SOURCE_PROP, source_id
from tests.conftest import BASE_DATE, graph_hook, oh_hook

SOURCE = "openhandwerk:4711"
WINDOW = Window(dt.datetime.combine(BASE_DATE - dt.timedelta(days=7), dt.time(), dt.UTC),
                dt.datetime.combine(BASE_DATE + dt.timedelta(days=30), dt.time(), dt.UTC))


def account_of(openhandwerk) -> dict:
    """The openHandwerk account's tag and zone, as the operator hands them to the sync."""
    return {"source": source_id(openhandwerk.settings.id_kn), "zone": openhandwerk.settings.timezone}


def mapping_for(sandbox) -> dict:
    result, _ = run_user_mapping(graph_hook(sandbox), oh_hook(sandbox))
    return result.mapping()


def sync(sandbox, mapping=None, window=WINDOW, **options):
    policy = PlanPolicy(**{k: options.pop(k) for k in ("on_outlook_edit", "max_delete_fraction", "allow_mass_delete")
                           if k in options})
    graph = options.pop("graph", None) or graph_hook(sandbox)
    options.setdefault("salt", uuid.uuid4().hex)  # each Airflow run has its own run id
    openhandwerk = options.pop("openhandwerk", None) or oh_hook(sandbox)
    runner = CalendarSync(graph, openhandwerk, mapping if mapping is not None else mapping_for(sandbox),
                          SyncOptions(window=window, policy=policy, **account_of(openhandwerk), **options))
    return runner.run()


class Gate:
    """Overlapping runs meet here: each run's first write waits until every run has read and planned
    (or ended without writing), the worst interleaving: all plan from the same calendars, then all write."""

    def __init__(self, runs: int):
        self.runs, self.arrived, self.cond = runs, set(), threading.Condition()

    def arrive(self, run: int) -> None:
        with self.cond:
            self.arrived.add(run)
            self.cond.notify_all()

    def meet(self, run: int) -> None:
        self.arrive(run)
        with self.cond:
            self.cond.wait_for(lambda: len(self.arrived) >= self.runs, timeout=30)


class GatedGraph:
    """A Graph hook that stops at the gate before its run's first write."""

    def __init__(self, hook, gate: Gate, run: int):
        self._hook, self._gate, self._run, self._passed, self._lock = hook, gate, run, False, threading.Lock()

    def __getattr__(self, name):
        return getattr(self._hook, name)

    def batch(self, requests):
        requests = list(requests)
        if any(r["method"] != "GET" for r in requests):
            with self._lock:
                if not self._passed:
                    self._gate.meet(self._run)
                    self._passed = True
        return self._hook.batch(requests)


def overlapping(sandbox, mapping, windows, **options) -> list[dict]:
    """Runs at once, each with its own hooks and run id (two DAG runs, or a retry beside a zombie)."""
    gate = Gate(len(windows))
    summaries: list = [None] * len(windows)

    def run(i, window):
        try:
            policy = PlanPolicy(allow_mass_delete=options.get("allow_mass_delete", False))
            openhandwerk = oh_hook(sandbox)
            runner = CalendarSync(GatedGraph(graph_hook(sandbox), gate, i), openhandwerk, mapping,
                                  SyncOptions(window=window, policy=policy, salt=uuid.uuid4().hex, **account_of(openhandwerk),
                                              calendar_name=options.get("calendar_name")))
            summaries[i] = runner.run()
        finally:
            gate.arrive(i)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(windows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(s is not None for s in summaries), "an overlapping run raised"
    return summaries


def desired_events(sandbox, mapping, window=WINDOW) -> dict[tuple[str, str], dict[str, str]]:
    """(mailbox, key) -> field hashes of the event that should be there."""
    records = [parse_appointment(r) for r in sandbox.state.appointments.values()]
    emp_to_user = {e: m["user_id"] for e, m in mapping.items()}
    state = desired_state(records, emp_to_user, window, SOURCE, RenderOptions())
    return {(mailbox, str(d.key)): d.hashes for mailbox, events in state.by_mailbox.items() for d in events}


def expected(sandbox, mapping, window=WINDOW) -> set[tuple[str, str]]:
    return set(desired_events(sandbox, mapping, window))


def ours(sandbox, window=WINDOW) -> Counter:
    """(mailbox, key) -> how many tagged events of our source start in the window."""
    found: Counter = Counter()
    with sandbox.state.lock:
        for user_id, events in sandbox.state.events.items():
            for event in events.values():
                if event["_props"].get(SOURCE_PROP) == SOURCE and (window is None or window.contains(event["_start_utc"])):
                    found[(user_id, event["_props"].get(KEY_PROP))] += 1
    return found


def assert_converged(sandbox, mapping, window=WINDOW) -> None:
    """Keys and content of our events in the window equal the desired state; no duplicates anywhere."""
    actual = ours(sandbox, window)
    wanted = desired_events(sandbox, mapping, window)
    assert set(actual) == set(wanted)
    with sandbox.state.lock:
        for user_id, events in sandbox.state.events.items():
            for event in events.values():
                key = (user_id, event["_props"].get(KEY_PROP))
                if key in wanted:
                    shown = render_event(event, None, None, "W. Europe Standard Time")
                    current = fingerprint.hashes(shown, fingerprint.COMPARABLE)
                    assert current == {n: wanted[key][n] for n in fingerprint.COMPARABLE}, key
    everywhere = ours(sandbox, None)
    assert max(everywhere.values(), default=1) == 1, "duplicates"
    assert sandbox.state.stats()["invitations_sent"] == 0


def assert_in_target(sandbox, calendar_name: str | None = None) -> None:
    """Every event of ours sits in the target calendar (by name; None: the default calendar)."""
    with sandbox.state.lock:
        for user_id, events in sandbox.state.events.items():
            calendars = sandbox.state.calendars.get(user_id, {})
            for event in events.values():
                if event["_props"].get(SOURCE_PROP) != SOURCE:
                    continue
                cal = calendars[event["_calendar"]]
                where = cal["isDefaultCalendar"] if calendar_name is None else cal["name"] == calendar_name
                assert where, f"{event['_props'].get(KEY_PROP)} is in calendar {cal['name']!r}"


def event_of(sandbox, appointment_id: str, employee_id: str) -> tuple[str, dict] | None:
    key = f"{SOURCE}|{appointment_id}|{employee_id}"
    for user_id, events in sandbox.state.events.items():
        for event in events.values():
            if event["_props"].get(KEY_PROP) == key:
                return user_id, event
    return None


def writes(summary) -> int:
    return sum(summary["totals"].get(k, 0) for k in ("create", "update", "delete"))
