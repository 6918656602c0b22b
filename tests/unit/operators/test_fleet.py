"""The fleet's task bodies: a wrong or paused tenant, the report over a tenant's own shards, the
credential check's row and alert, the mapping reused while openHandwerk's employees stand."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset, ObjectStoragePath

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.graph.credentials import Assessment
from oh_outlook_provider.i18n import speaking
from oh_outlook_provider.operators import fleet
from oh_outlook_provider.runners.tenants import parse_registry
from oh_outlook_provider.sync.models import Employee
from oh_outlook_provider.version_compat import AirflowFailException, AirflowSkipException


class FakeTI:
    """The task instance's XCom as the fleet's tasks use it."""

    def __init__(self, map_index: int = 0, xcoms: dict | None = None):
        self.dag_id, self.map_index, self.pushed = "oh_outlook_fleet_sync", map_index, {}
        self.xcoms = xcoms or {}

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids, key="return_value", map_indexes=None):
        return self.xcoms.get((task_ids, key, map_indexes))


class Events(dict):
    def __missing__(self, key):
        self[key] = SimpleNamespace(added=[], add=lambda asset, extra: self[key].added.append((asset, extra)))
        return self[key]


def tenants():
    return [t.to_dict() for t in parse_registry([
        {"key": "mueller", "name": "Müller"}, {"key": "schmidt", "name": "Schmidt", "paused": True},
        {"key": "Falsch", "name": "Falsch"}])]


def test_a_wrong_entry_fails_its_own_task_with_the_reason_and_a_paused_one_is_skipped():
    good, paused, wrong = tenants()
    assert fleet.usable(good).key == "mueller"
    with pytest.raises(AirflowSkipException, match="Schmidt"):
        fleet.usable(paused)
    with speaking("en"), pytest.raises(AirflowFailException, match=r"Falsch.*registry entry is wrong.*key"):
        fleet.usable(wrong)


def large_tenant_xcoms(second_shard: dict | None) -> dict:
    good = tenants()[0]
    window = {"start": "2026-11-23T00:00:00+00:00", "end": "2027-02-28T00:00:00+00:00"}
    shards = [{"tenant": "other", "label": "O", "prepare_index": 0, "shard": 2, "shards": 2},
              {"tenant": "mueller", "label": "M", "prepare_index": 1, "shard": 2, "shards": 2}]
    return {("tenant", "prepared", 1): {"tenant": good}, ("plan", "return_value", None): shards,
            ("tenant", "return_value", 1): {"totals": {"create": 2, "update": 1},
                                            "summary": {"totals": {"create": 2, "update": 1}, "window": window,
                                                        "appointments": 9}},
            ("sync", "return_value", 0): {"totals": {"create": 100}},
            ("sync", "return_value", 1): second_shard}


def test_a_large_tenants_report_adds_up_only_its_own_shards_and_announces_its_own_asset():
    plan = {"tenant": "mueller", "label": "Müller (mueller)", "prepare_index": 1, "shards": 2}
    ti = FakeTI(xcoms=large_tenant_xcoms({"totals": {"create": 3}}))
    events, alias = Events(), object()
    totals = fleet.report(plan, {"ti": ti, "outlet_events": events}, alias)
    assert totals == {"create": 5, "update": 1}
    [(asset, extra)] = events[alias].added
    assert asset == Asset(name="oh_outlook_calendars__openhandwerk_mueller",
                          uri="oh-outlook://openhandwerk_mueller/calendars", group="oh_outlook")
    assert extra["tenant"] == "mueller" and extra["totals"] == totals and extra["appointments"] == 9


def test_a_large_tenants_report_fails_naming_the_shard_that_failed():
    plan = {"tenant": "mueller", "label": "Müller (mueller)", "prepare_index": 1, "shards": 2}
    with speaking("en"), pytest.raises(AirflowFailException, match=r"Müller \(mueller\): shard\(s\) 2 failed"):
        fleet.report(plan, {"ti": FakeTI(xcoms=large_tenant_xcoms(None))}, object())


def test_the_outcome_fails_the_run_naming_every_tenant_not_synced_and_leaves_out_the_paused():
    registry = [*tenants(), parse_registry([{"key": "kaputt", "name": "Kaputt"}])[0].to_dict()]
    # One request a task: Airflow hands back a lone value bare (the mueller tenant's result here).
    xcoms = {("tenant", "return_value", None): {"tenant": "mueller", "totals": {}}, ("plan", "return_value", None): []}
    with speaking("en"), pytest.raises(AirflowFailException, match=r"2 of 4 tenant\(s\) not synced: Falsch, "
                                                                   r"Kaputt \(kaputt\)"):
        fleet.outcome(registry, {"ti": FakeTI(xcoms=xcoms)})
    assert fleet.outcome(registry[:2], {"ti": FakeTI(xcoms=xcoms)}) == {"synced": 1, "paused": 1}


@pytest.mark.parametrize("ok", [True, False])
def test_the_credential_check_pushes_its_row_then_alerts_below_the_threshold(monkeypatch, ok):
    seen = {}

    def check(conn_id, min_valid_for, check_token):
        seen.update(conn_id=conn_id, days=min_valid_for.days)
        return Assessment(ok, 400 if ok else 12, "valid" if ok else "expires in 12 days", source="Entra")

    monkeypatch.setattr("oh_outlook_provider.runners.secret_expiry.check_credential", check)
    ti = FakeTI()
    tenant = parse_registry([{"key": "knapp", "name": "Knapp", "min_valid_days": 45}])[0].to_dict()
    if ok:
        fleet.credential(tenant, {"ti": ti})
    else:
        with speaking("en"), pytest.raises(AirflowFailException, match="Knapp.*expires in 12 days"):
            fleet.credential(tenant, {"ti": ti})
    assert seen == {"conn_id": "office365_knapp", "days": 45}
    assert ti.pushed["row"] == {"label": "Knapp (knapp)", "connection": "office365_knapp",
                                "days_left": 400 if ok else 12, "source": "Entra", "ok": ok,
                                "message": "valid" if ok else "expires in 12 days"}


class Staff:
    def __init__(self, employees):
        self.employees = employees

    def iter_employees(self):
        return iter(self.employees)


class Directory:
    """Graph's users and mailboxes as the user mapping reads them; counts the reads."""

    def __init__(self):
        self.user_reads = 0

    def iter_users(self):
        self.user_reads += 1
        yield {"id": "0b6f6c1e-1111-4222-8333-444455556666", "displayName": "Jürgen Müller", "mail": "j@m.de",
               "userPrincipalName": "j@m.de",
               "accountEnabled": True, "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}],
               "proxyAddresses": [], "otherMails": []}

    def get(self, path, params=None):
        return {"id": "cal"}


def test_the_mapping_is_made_again_only_when_the_employees_change(tmp_path):
    tenant = parse_registry([{"key": "mueller", "name": "Müller"}])[0]
    folder = ObjectStoragePath(f"file://{tmp_path}/mueller")
    graph = Directory()
    staff = [Employee("M-1", "Jürgen Müller", "j@m.de")]
    first = fleet._mapping(graph, Staff(staff), tenant, folder)
    assert first["mapping"]["M-1"]["user_id"] == "0b6f6c1e-1111-4222-8333-444455556666" and graph.user_reads == 1
    assert fleet._mapping(graph, Staff(staff), tenant, folder) == first and graph.user_reads == 1
    fleet._mapping(graph, Staff([*staff, Employee("M-2", "Anna Wolf", "a@m.de")]), tenant, folder)
    assert graph.user_reads == 2
    assert json.loads((folder / "mapping.json").read_text())["mapping"]["counts"] == {"matched": 1, "no_user": 1}


def test_the_registry_task_refuses_more_tenants_than_airflow_maps(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OH_OUTLOOK_TENANTS", json.dumps([{"key": f"t{i}", "name": f"T{i}"} for i in range(3)]))
    assert [t["key"] for t in fleet.registry()] == ["t0", "t1", "t2"]
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    from airflow.configuration import conf

    assert conf.getint("core", "max_map_length") == 2
    with pytest.raises(ConfigurationError, match="max_map_length"):
        fleet.registry()


def test_records_rejected_on_reading_count_once_in_a_tenants_totals(monkeypatch):
    # The shards sync a snapshot that leaves the read's rejected records out: their summaries count
    # only what Graph refused; the tenant's totals (log, asset event) add the read's rejections once.
    window = {"start": "2026-11-23T00:00:00+00:00", "end": "2027-02-28T00:00:00+00:00"}
    prepared = {"tenant": tenants()[0], "appointments": {"rejected_total": 2}, "shards": [["u1"]]}
    monkeypatch.setattr(fleet, "prepare", lambda tenant, context, graph=None, openhandwerk=None: prepared)
    monkeypatch.setattr(fleet, "sync_shard", lambda prepared, number, context, graph=None, openhandwerk=None: {
        "totals": {"create": 4, "rejected": 1}, "window": window, "appointments": 6})
    events, alias = Events(), object()
    result = fleet.run_tenant(tenants()[0], {"ti": FakeTI(), "outlet_events": events}, alias)
    assert result["totals"] == {"create": 4, "rejected": 3}
    assert events[alias].added[0][1]["totals"] == {"create": 4, "rejected": 3}
    # A large tenant: its report adds them once over all its shards.
    xcoms = large_tenant_xcoms({"totals": {"create": 3}})
    xcoms[("tenant", "prepared", 1)] = {"tenant": tenants()[0], "appointments": {"rejected_total": 2}}
    plan = {"tenant": "mueller", "label": "Müller (mueller)", "prepare_index": 1, "shards": 2}
    assert fleet.report(plan, {"ti": FakeTI(xcoms=xcoms), "outlet_events": Events()}, object()) == \
        {"create": 5, "update": 1, "rejected": 2}


def test_a_tenant_task_prepares_and_syncs_with_one_graph_hook_so_one_token(monkeypatch):
    # Each Office365Hook has its own msal app and token cache: a second hook for the first shard cost
    # every tenant a second token request (and discovery) each run.
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook

    seen = []
    prepared = {"tenant": tenants()[0], "appointments": {"rejected_total": 0}, "shards": [["u1"]]}

    def fake_prepare(tenant, context, graph=None, openhandwerk=None):
        seen.append((graph, openhandwerk))
        return prepared

    def fake_sync(prepared, number, context, graph=None, openhandwerk=None):
        seen.append((graph, openhandwerk))
        return {"totals": {}, "window": None, "appointments": 0}

    monkeypatch.setattr(fleet, "prepare", fake_prepare)
    monkeypatch.setattr(fleet, "sync_shard", fake_sync)
    fleet.run_tenant(tenants()[0], {"ti": FakeTI(), "outlet_events": Events()}, object())
    (graph, openhandwerk), (graph_again, openhandwerk_again) = seen
    assert isinstance(graph, Office365Hook) and graph.office365_conn_id == "office365_mueller"
    assert graph_again is graph
    # The openHandwerk connection is looked up once a task too (each lookup is an execution-API request).
    assert isinstance(openhandwerk, OpenHandwerkHook) and openhandwerk_again is openhandwerk


def test_a_large_tenant_counts_as_synced_only_with_every_further_shard():
    registry = parse_registry([{"key": "gross", "name": "Groß"}, {"key": "klein", "name": "Klein"}])
    registry = [t.to_dict() for t in registry]
    shards = [{"tenant": "gross", "label": "Groß (gross)", "prepare_index": 0, "shard": s, "shards": 3} for s in (2, 3)]
    results = [{"tenant": "gross", "totals": {}}, {"tenant": "klein", "totals": {}}]
    xcoms = {("tenant", "return_value", None): results, ("plan", "return_value", None): shards,
             ("sync", "return_value", None): [{"tenant": "gross", "shard": 3}]}
    with speaking("en"), pytest.raises(AirflowFailException, match=r"1 of 2 tenant\(s\) not synced: Groß \(gross\)"):
        fleet.outcome(registry, {"ti": FakeTI(xcoms=xcoms)})
    xcoms[("sync", "return_value", None)] = [{"tenant": "gross", "shard": 3}, {"tenant": "gross", "shard": 2}]
    assert fleet.outcome(registry, {"ti": FakeTI(xcoms=xcoms)}) == {"synced": 2, "paused": 0}


def test_the_plans_come_in_one_request_and_only_large_tenants_get_further_shards():
    plans = [{"tenant": "b", "label": "B", "prepare_index": 1, "shards": 3},
             {"tenant": "a", "label": "A", "prepare_index": 0, "shards": 1}]
    ti = FakeTI(xcoms={("tenant", "plan", None): plans})
    assert [(s["tenant"], s["shard"]) for s in fleet.plan_shards({"ti": ti}, 1024)] == [("b", 2), ("b", 3)]
    assert [p["tenant"] for p in fleet.large_tenants({"ti": ti})] == ["b"]
    with pytest.raises(ConfigurationError, match="max_map_length"):
        fleet.plan_shards({"ti": ti}, 1)
    assert fleet.pulled_all(FakeTI(), "tenant") == []  # no tenant got that far
    assert fleet.pulled_all(FakeTI(xcoms={("tenant", "plan", None): plans[1]}), "tenant", "plan") == [plans[1]]
