"""The fleet's tenant task against a fleet sandbox: each broken tenant fails alone, in its own words;
the healthy ones are synced exactly; nothing of one tenant reaches another (issue 24, item 3)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from devtools.sandbox import control
from devtools.sandbox.fleet import Fleet
from devtools.sandbox.server import SandboxServer
from devtools.sandbox.state import Faults
from oh_outlook_provider.hooks import office365, openhandwerk
from oh_outlook_provider.hooks.retry import RetryPolicy
from oh_outlook_provider.operators import fleet
from oh_outlook_provider.runners.tenants import parse_registry
from oh_outlook_provider.sync.tags import KEY_PROP, SOURCE_PROP
from oh_outlook_provider.version_compat import AirflowException
from tests.conftest import scaled_sleep

BROKEN = {"t001": "wrong secret", "t002": "missing permission", "t003": "expired secret",
          "t004": "openHandwerk down", "t005": "throttled on every request"}


class TenantTI:
    def __init__(self, index: int):
        self.dag_id, self.map_index, self.pushed = "oh_outlook_fleet_sync", index, {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


class Announced(dict):
    def __missing__(self, key):
        self[key] = SimpleNamespace(added=[], add=lambda asset, extra: self[key].added.append((asset, extra)))
        return self[key]


@pytest.fixture(scope="module")
def fleet_sandbox():
    sandbox = Fleet.generate(8, 2, 5, seed=11, factors={"t006": 3}, faults={"t004": Faults(oh_down=True),
                                                                           "t005": Faults(p429=1.0)})
    with SandboxServer(fleet=sandbox) as server:
        yield server


@pytest.fixture
def fleet_env(fleet_sandbox, monkeypatch, tmp_path):
    connections = fleet_sandbox.fleet_connections()
    connections["office365_t001"]["password"] = "sbx~not-the-secret-of-this-tenant-0000"
    changes = {name: control.make_mistake(fleet_sandbox.tenant_state(key), name)
               for key, name in (("t002", "calendars_read"), ("t003", "expired_secret"))}
    assert changes == {"calendars_read": {}, "expired_secret": {}}  # both made in Entra, not in the connection
    for conn_id, data in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(data))
    monkeypatch.setenv("OH_OUTLOOK_SNAPSHOT_BASE", f"file://{tmp_path}")
    fast = {"sleep": scaled_sleep}
    monkeypatch.setattr(office365, "RetryPolicy", lambda **kw: RetryPolicy(**{"wait_budget": 60, **kw, **fast}))
    monkeypatch.setattr(openhandwerk, "RetryPolicy", lambda **kw: RetryPolicy(**{**kw, **fast}))
    return fleet_sandbox


def run(data: dict, index: int) -> tuple[str, object]:
    """One tenant task as Airflow would run it: ("ok", (result, context)) or ("failed", message)."""
    context = {"ti": TenantTI(index), "run_id": "manual__fleet", "outlet_events": Announced()}
    try:
        return "ok", (fleet.run_tenant(data, context, "alias"), context)
    except AirflowException as exc:
        return "failed", str(exc)


def mapping_of(state) -> dict[str, str]:
    """employee id -> user id, read from the tenant's own directory (every generated employee has a mailbox)."""
    by_upn = {u.userPrincipalName.casefold(): u.id for u in state.users.values()}
    return {e["id"]: by_upn[e["email"].casefold()] for e in state.employees.values()}


def test_each_broken_tenant_fails_alone_with_its_reason_and_the_others_are_exact(fleet_env):
    registry = [t.to_dict() for t in parse_registry(
        [{"key": s.key, "name": s.display_name, "language": "en", "mailboxes_per_shard": 4} for s in fleet_env.fleet])]
    with ThreadPoolExecutor(len(registry)) as pool:  # as the workers run them: all at once
        outcomes = dict(zip([t["key"] for t in registry], pool.map(run, registry, range(len(registry))), strict=True))
    assert {key for key, (state, _) in outcomes.items() if state == "failed"} == set(BROKEN)
    reasons = {key: outcomes[key][1] for key in BROKEN}
    assert "AADSTS7000215" in reasons["t001"] and "secret" in reasons["t001"]
    assert "Calendars.ReadWrite" in reasons["t002"]
    assert "AADSTS7000222" in reasons["t003"] or "expired" in reasons["t003"]
    assert "503" in reasons["t004"] or "openHandwerk" in reasons["t004"]
    assert "429" in reasons["t005"] or "throttl" in reasons["t005"].lower()
    for key, reason in reasons.items():  # no other tenant's name, ids or secret in a tenant's error
        others = [s for s in fleet_env.fleet if s.key != key]
        assert not any(o.display_name in reason or o.tenant_id in reason or o.client_secret in reason
                       or o.domain in reason for o in others), (key, reason)
        assert fleet_env.tenant_state(key).client_secret not in reason
    for state in fleet_env.fleet:
        if state.key in BROKEN:
            continue
        (result, context), source = outcomes[state.key][1], f"openhandwerk:{state.oh_id_kn}"
        mapping = mapping_of(state)
        with state.lock:
            ours = [(user, e) for user, events in state.events.items() for e in events.values()
                    if e["_props"].get(SOURCE_PROP) == source]
            foreign_sources = {e["_props"].get(SOURCE_PROP) for events in state.events.values()
                               for e in events.values()} - {source, None}
        assert foreign_sources == set(), state.key  # no other tenant's events in this tenant's mailboxes
        assert ours and all(e["_props"][KEY_PROP].startswith(source + "|") for _, e in ours)
        assert {user for user, _ in ours} <= set(mapping.values())
        created = result["totals"].get("create", 0) if result["summary"] is None else None
        if created is not None:  # one shard: the task announced the tenant's asset itself
            [(asset, extra)] = context["outlet_events"]["alias"].added
            assert asset.uri == f"oh-outlook://openhandwerk_{state.key}/calendars" and extra["tenant"] == state.key
            assert created == len(ours)
    large, context = outcomes["t006"][1]  # 6 mailboxes, 4 a shard: the task syncs shard 1 of 2
    shards = context["ti"].pushed["prepared"]["shards"]
    assert [len(s) for s in shards] == [3, 3] and context["ti"].pushed["plan"]["shards"] == 2
    assert set(large["summary"]["mailboxes"]) == set(shards[0]) and "alias" not in context["outlet_events"]


def test_the_fleet_expiry_check_lists_every_tenant_and_alerts_only_below_its_threshold(monkeypatch, tmp_path):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from oh_outlook_provider.runners.fleet import expiry_table
    from oh_outlook_provider.version_compat import AirflowFailException

    sandbox = Fleet.generate(3, 1, 1, seed=5)
    soon = sandbox["t001"]
    berlin = ZoneInfo("Europe/Berlin")
    noon = dt.datetime.combine(dt.datetime.now(berlin).date() + dt.timedelta(days=10), dt.time(12), berlin)
    with soon.lock:  # rotated late: the secret the connection holds ends in 10 days (a German admin's days)
        next(s for s in soon.apps[soon.client_id].secrets if s.value == soon.client_secret).expires = noon
    with SandboxServer(fleet=sandbox) as server:
        connections = server.fleet_connections()
        connections["office365_t002"]["password"] = "sbx~not-the-secret-of-this-tenant-0000"
        for conn_id, data in connections.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(data))
        registry = [t.to_dict() for t in parse_registry(
            [{"key": s.key, "name": s.display_name, "language": "en"} for s in sandbox])]
        rows, alerts = [], {}
        for index, tenant in enumerate(registry):
            ti = TenantTI(index)
            try:
                fleet.credential(tenant, {"ti": ti})
            except AirflowFailException as exc:
                alerts[tenant["key"]] = str(exc)
            rows.append(ti.pushed["row"])
    assert set(alerts) == {"t001", "t002"}  # 10 days < 30; a refused secret never passes
    assert sandbox["t001"].display_name in alerts["t001"] and "AADSTS7000215" in alerts["t002"]
    by_key = {row["connection"].removeprefix("office365_"): row for row in rows}
    assert by_key["t000"]["ok"] and by_key["t000"]["days_left"] >= 729 and by_key["t000"]["source"] == "the connection"
    assert by_key["t001"]["days_left"] == 10 and not by_key["t001"]["ok"]
    lines = expiry_table(rows).splitlines()
    assert [line.split(" (")[0] for line in lines[2:4]] == [sandbox["t001"].display_name, sandbox["t000"].display_name]
