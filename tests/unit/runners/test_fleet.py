"""The fleet's plan between its mapped tasks: shards, indexes, totals, the mapping's reuse, the expiry table."""

from __future__ import annotations

from oh_outlook_provider.i18n import speaking
from oh_outlook_provider.runners import fleet
from oh_outlook_provider.sync.models import Employee


def test_shards_are_near_equal_sorted_and_never_more_than_needed():
    shards = fleet.plan_shards([f"u{i:03}" for i in range(101)] + ["u000"], 50)
    assert [len(s) for s in shards] == [34, 34, 33] and all(s == sorted(s) for s in shards)
    assert sorted(sum(shards, [])) == [f"u{i:03}" for i in range(101)]
    assert fleet.plan_shards([], 50) == [[]] and fleet.plan_shards(["a", "b"], 50) == [["a", "b"]]


def test_only_prepared_tenants_get_shards_and_each_report_finds_its_own():
    prepared = [{"tenant": "b", "label": "B", "prepare_index": 2, "shards": 2}, None,
                {"tenant": "a", "label": "A", "prepare_index": 0, "shards": 1}]
    shards = fleet.fleet_shards(prepared)
    assert [(s["tenant"], s["shard"], s["shards"]) for s in shards] == [("a", 1, 1), ("b", 1, 2), ("b", 2, 2)]
    assert fleet.sync_indexes(shards, "b") == [1, 2] and fleet.sync_indexes(shards, "c") == []
    assert [fleet.shard_label(s) for s in shards] == ["A", "B 1/2", "B 2/2"]


def test_totals_add_up_over_shards_and_ignore_a_missing_summary():
    assert fleet.add_totals([{"totals": {"create": 2, "update": 1}}, None, {"totals": {"create": 3}}]) == {
        "create": 5, "update": 1}


def test_a_mapping_stands_while_the_employees_are_the_same_and_it_is_younger_than_a_day():
    staff = [Employee("M-1", "Jürgen Müller", "j@m.de"), Employee("M-2", "Anna Wolf", None)]
    digest = fleet.employees_digest(staff)
    assert digest == fleet.employees_digest(list(reversed(staff)))
    cached = {"digest": digest, "made_at": 1000.0, "mapping": {}}
    assert fleet.mapping_reusable(cached, digest, 1000.0 + 3600, 86400)
    assert not fleet.mapping_reusable(cached, digest, 1000.0 + 86400, 86400)
    assert not fleet.mapping_reusable(None, digest, 1000.0, 86400)
    for changed in ([Employee("M-1", "Jürgen Müller", "neu@m.de"), staff[1]], staff[:1],
                    [staff[0], Employee("M-2", "Anna Wolf", None, active=False)]):
        assert not fleet.mapping_reusable(cached, fleet.employees_digest(changed), 1000.0, 86400)


def test_the_expiry_table_lists_fewest_days_first_with_source_and_alert():
    rows = [{"label": "Gut GmbH (gut)", "connection": "office365_gut", "days_left": 400, "source": "Entra", "ok": True},
            {"label": "Knapp KG (knapp)", "connection": "office365_knapp", "days_left": 12,
             "source": "the connection", "ok": False},
            {"label": "Kaputt (kaputt)", "connection": "office365_kaputt", "days_left": None, "source": None,
             "ok": False}]
    with speaking("en"):
        lines = fleet.expiry_table(rows).splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["Knapp", "Gut", "Kaputt"]
    assert "12" in lines[2] and "the connection" in lines[2] and lines[2].endswith("ALERT")
    assert lines[3].endswith("OK") and "Entra" in lines[3]
    with speaking("de"):
        german = fleet.expiry_table(rows)
    assert "der Verbindung" in german and "Tage übrig" in german and "Mandant" in german
