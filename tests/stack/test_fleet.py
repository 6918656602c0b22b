"""Many businesses, one Airflow (issue 24, Done when): the fleet DAG run by the scheduler on both Celery
workers against a fleet sandbox of 31 tenants. Run 1: the two broken tenants fail alone, named in the
UI and with their reason in their own log; every healthy tenant's calendars are exact; no tenant's log
names another tenant. Run 2: one tenant more through the REST API (connections and the Variable, no
file change): it is synced exactly, the others write nothing and read one Graph request per mailbox."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter

import pytest

from devtools.sandbox.fleet import Fleet
from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import Faults
from oh_outlook_provider.runners.tenants import VARIABLE
from tests.stack.conftest import assert_exact, expected_events, settle, task_instances, trigger, wait_run

pytestmark = pytest.mark.stack

DAG_ID = "oh_outlook_fleet_sync"
TENANTS = 31  # t000..t030: the first 30 in the registry at first, t030 added for run 2
EXTRA = "t030"
LARGE = "t005"  # 10x mailboxes (20), 10 a shard: its tenant task syncs shard 1, a sync task shard 2
WRONG_SECRET, OH_DOWN = "t001", "t003"
REASONS = {WRONG_SECRET: "AADSTS7000215", OH_DOWN: "503"}
# Appointments from 3 days back to 10 ahead (the seed's span / 3 .. span); the registry's window
# 14 days either way holds them all, so two runs a minute apart read the same appointments.
SPAN_DAYS, WINDOW_DAYS = 10, 14


@pytest.fixture(scope="module")
def fleet_sandbox():
    fleet = Fleet.generate(TENANTS, 2, 4, seed=42, factors={LARGE: 10}, faults={OH_DOWN: Faults(oh_down=True)},
                           base_date=dt.date.today(), span_days=SPAN_DAYS)
    with SandboxServer(fleet=fleet) as server:
        yield server


def entry(state) -> dict:
    """The tenant's registry entry, as an integrator types it."""
    out = {"key": state.key, "name": state.display_name, "past_days": WINDOW_DAYS, "future_days": WINDOW_DAYS}
    return out | ({"mailboxes_per_shard": 10} if state.key == LARGE else {})


def label(state) -> str:
    return f"{state.display_name} ({state.key})"


def add_connections(api, sandbox, keys: list[str]) -> None:
    """office365_<key> and openhandwerk_<key> through POST /connections (as devtools/stack.py makes the stack's)."""
    for key in keys:
        office365 = sandbox.office365_connection(tenant=key)
        if key == WRONG_SECRET:  # the integrator pasted a wrong secret
            office365["password"] = "sbx~not-the-secret-of-this-tenant-0000"
        for conn_id, value in ((f"office365_{key}", office365),
                               (f"openhandwerk_{key}", sandbox.openhandwerk_connection(tenant=key))):
            api.post("connections", {"connection_id": conn_id, **value, "extra": json.dumps(value["extra"])})


def mapping_of(state) -> dict:
    """employee id -> {"user_id"}: the tenant's user whose UPN is the employee's e-mail (every generated
    employee has a licensed mailbox), read from the tenant's own directory, not from the sync."""
    by_upn = {u.userPrincipalName.casefold(): u.id for u in state.users.values()}
    return {e["id"]: {"user_id": by_upn[e["email"].casefold()]} for e in state.employees.values()}


def source(state) -> str:
    return f"openhandwerk:{state.oh_id_kn}"


def announced(api, run_ids: list[str]) -> dict[str, list[dict]]:
    """tenant key -> the `extra` of each asset event the runs emitted for it."""
    out: dict[str, list[dict]] = {}
    for run_id in run_ids:
        for event in api.get("assets/events", source_dag_id=DAG_ID, source_run_id=run_id, limit=100)["asset_events"]:
            out.setdefault(event["extra"]["tenant"], []).append(event["extra"])
    return out


def full_log(api, run_id: str, ti: dict) -> str:
    """Every line of the task instance's last try with all its fields (the exception's `error_detail`
    too), as JSON text: what the log view can show."""
    answer = api.get(f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
                     map_index=ti["map_index"], full_content=True)
    return "\n".join(json.dumps(line, ensure_ascii=False, default=str) for line in answer["content"])


def windows(extras: list[dict]) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(dt.datetime.fromisoformat(x["window"]["start"]), dt.datetime.fromisoformat(x["window"]["end"]))
            for x in extras]


def run_fleet(api) -> tuple[str, list[str], float]:
    """Unpause; the scheduler's run of a cron tick passed while the DAG was paused is the run when it
    comes within seconds (max_active_runs=1: a triggered run would wait for it), else one triggered
    through the REST API; wait for it and any scheduled run beside it. (the run, every run id since, seconds)"""
    since, began = dt.datetime.now(dt.UTC), time.monotonic()
    api.patch(f"dags/{DAG_ID}", {"is_paused": False})
    run_id = None
    while run_id is None and time.monotonic() < began + 6:
        time.sleep(1)
        runs = [r for r in api.get(f"dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]
                if dt.datetime.fromisoformat(r["queued_at"] or r["run_after"]) >= since]
        run_id = runs[0]["dag_run_id"] if runs else None
    run_id = run_id or trigger(api, DAG_ID)
    state = wait_run(api, DAG_ID, run_id, timeout=300)["state"]
    runs = settle(api, DAG_ID, since)
    seconds = time.monotonic() - began
    print(f"fleet run {run_id}: {state} in {seconds:.0f}s ({len(runs)} run(s))")
    return run_id, [r["dag_run_id"] for r in runs], seconds


@pytest.fixture(scope="module")
def first_run(stack, fleet_sandbox):
    """Connections and registry of the first 30 tenants through the REST API, then one run."""
    api = stack.api
    keys = fleet_sandbox.fleet.keys
    add_connections(api, fleet_sandbox, [k for k in keys if k != EXTRA])
    registry = [entry(s) for s in fleet_sandbox.fleet if s.key != EXTRA]
    api.post("variables", {"key": VARIABLE, "value": json.dumps(registry)})
    try:
        yield run_fleet(api)
    finally:  # the suite's later tests see the stack's own connections only (the UI lists them)
        api.request("DELETE", f"variables/{VARIABLE}")
        api.patch("connections", {"actions": [{"action": "delete", "action_on_non_existence": "skip", "entities": [
            f"{kind}_{key}" for key in keys for kind in ("office365", "openhandwerk")]}]})


def test_run_1_broken_tenants_fail_alone_and_every_healthy_one_is_exact(stack, api, fleet_sandbox, first_run):
    run_id, run_ids, _ = first_run
    fleet = fleet_sandbox.fleet
    registered = [s for s in fleet if s.key != EXTRA]
    assert api.get(f"dags/{DAG_ID}/dagRuns/{run_id}")["state"] == "failed"
    tis = task_instances(api, DAG_ID, run_id)
    tenant_tis = sorted((t for t in tis if t["task_id"] == "tenant"), key=lambda t: t["map_index"])
    # One task per tenant, in registry order, each named "name (key)" in the UI.
    assert [t["rendered_map_index"] for t in tenant_tis] == [label(s) for s in registered]
    assert {s.key for s, t in zip(registered, tenant_tis, strict=True) if t["state"] == "failed"} == set(REASONS)
    assert {t["state"] for s, t in zip(registered, tenant_tis, strict=True) if s.key not in REASONS} == {"success"}
    for state, ti in zip(registered, tenant_tis, strict=True):
        log = full_log(api, run_id, ti)
        if state.key in REASONS:
            assert REASONS[state.key] in log, (state.key, log[-2000:])
        # Nothing of another tenant in a tenant's log; no secret at all (the wrong one typed included).
        others = [o for o in fleet if o.key != state.key]
        leaked = [o.key for o in others if o.display_name in log or o.domain in log or o.tenant_id in log]
        assert leaked == [], (state.key, leaked)
        assert not any(s.client_secret in log or s.oh_password in log for s in fleet), state.key
        assert "not-the-secret" not in log
    assert [t["try_number"] for t in tenant_tis if t["state"] == "failed"] == [1, 3]  # a wrong secret: no retry
    outcome = next(t for t in tis if t["task_id"] == "outcome")
    assert outcome["state"] == "failed"
    verdict = full_log(api, run_id, outcome)
    named = [s.key for s in registered if label(s) in verdict]
    assert named == sorted(REASONS), named  # the run's verdict names the two, and only them
    # The large tenant's second shard and its report ran, named by it.
    large = fleet[LARGE]
    assert [(t["rendered_map_index"], t["state"]) for t in tis if t["task_id"] == "sync"] == \
        [(f"{label(large)} 2/2", "success")]
    assert [(t["rendered_map_index"], t["state"]) for t in tis if t["task_id"] == "report"] == \
        [(label(large), "success")]
    assert {t["hostname"] for t in tis if t["hostname"]} == set(stack.settings.worker_names)
    # Every healthy tenant exact over the windows its run(s) announced; the broken ones untouched.
    events = announced(api, run_ids)
    assert set(events) == {s.key for s in registered} - set(REASONS)
    for state in registered:
        if state.key in REASONS:
            assert not any(state.events.values()), state.key
            continue
        assert len(events[state.key]) == len(run_ids)
        assert_exact(state, mapping_of(state), windows(events[state.key]), source=source(state))
        wanted = expected_events(state, mapping_of(state), windows(events[state.key]), source(state))
        totals = [x["totals"] for x in events[state.key]]  # one run, or ours and a scheduled one
        assert sum(t.get("create", 0) for t in totals) == len(wanted), (state.key, totals)
        assert not any(t.get("update") or t.get("delete") for t in totals), (state.key, totals)
        # The seed's T-BAD-1 and T-BAD-2, counted once per tenant and run (a large tenant's shards share one read).
        assert [t["rejected"] for t in totals] == [2] * len(totals), (state.key, totals)


def test_run_2_a_tenant_added_through_the_api_is_synced_and_the_others_write_nothing(api, fleet_sandbox, first_run):
    fleet = fleet_sandbox.fleet
    for state in fleet:
        state.reset_counters()
    add_connections(api, fleet_sandbox, [EXTRA])
    registry = [entry(s) for s in fleet]
    api.patch(f"variables/{VARIABLE}", {"key": VARIABLE, "value": json.dumps(registry)})
    run_id, run_ids, _ = run_fleet(api)
    tenant_tis = sorted((t for t in task_instances(api, DAG_ID, run_id) if t["task_id"] == "tenant"),
                        key=lambda t: t["map_index"])
    assert [t["rendered_map_index"] for t in tenant_tis] == [label(s) for s in fleet]
    assert {s.key for s, t in zip(fleet, tenant_tis, strict=True) if t["state"] != "success"} == set(REASONS)
    events = announced(api, run_ids)
    tries: Counter = Counter()  # tenant key -> tries of its tasks that talk to Graph (tenant, sync), every run
    for rid in run_ids:
        for t in task_instances(api, DAG_ID, rid):
            if t["task_id"] in ("tenant", "sync"):
                tries[re.search(r"\((t\d{3})\)", t["rendered_map_index"]).group(1)] += t["try_number"]
    print("healthy tenants' tasks retried:", {k: n for k, n in tries.items()
                                              if k not in REASONS and n > (2 if k == LARGE else 1) * len(run_ids)})
    new = fleet[EXTRA]
    assert_exact(new, mapping_of(new), windows(events[EXTRA]), source=source(new))
    wanted = expected_events(new, mapping_of(new), windows(events[EXTRA]), source(new))
    assert sum(x["totals"].get("create", 0) for x in events[EXTRA]) == len(wanted)
    for state in fleet:
        if state.key in REASONS or state.key == EXTRA:
            continue
        totals = [(x["totals"].get("create", 0), x["totals"].get("update", 0), x["totals"].get("delete", 0))
                  for x in events[state.key]]
        assert totals == [(0, 0, 0)] * len(run_ids), (state.key, totals)
        # Steady state: the mapping stands (no user list read), one calendar read a mailbox and one token
        # per task try that writes (the tenant task: prepare and shard 1 share its token; each further shard).
        # Tries, not tasks: a retry (a task lost its heartbeat on a loaded machine) reads again, rightly.
        stats, mailboxes = state.stats(), len(state.employees)
        assert stats["http_requests"] <= mailboxes * tries[state.key], (state.key, stats["http_requests"], mailboxes)
        assert stats["token_requests"] <= tries[state.key], (state.key, stats["token_requests"], tries[state.key])
        assert_exact(state, mapping_of(state), windows(events[state.key]), source=source(state))
