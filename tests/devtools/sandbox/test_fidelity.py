"""The sandbox behaves as Microsoft documents Graph: one test (or more) per row of docs/sandbox-fidelity.md.

Raw HTTP where the row is about the wire (the client would hide it), the hook where the row is
about what our client must survive.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from devtools.sandbox.state import Faults
from oh_outlook_provider import exceptions as errors
from oh_outlook_provider.runners.user_mapping import run_user_mapping
from oh_outlook_provider.sync.mapping import BLOCKED, MATCHED
from oh_outlook_provider.sync.tags import SOURCE_PROP
from tests.conftest import graph_hook, oh_hook
from tests.integration.sync_helpers import sync

TZ = "W. Europe Standard Time"


def user_id(sandbox, upn="juergen.mueller@mueller-haustechnik.de") -> str:
    return sandbox.state.find_user(upn).id


def event(**kw) -> dict:
    body = {"subject": "Test", "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": TZ},
            "end": {"dateTime": "2026-03-02T09:00:00", "timeZone": TZ}}
    return body | kw


class Raw:
    """Requests straight to the sandbox, with a valid token and its CA."""

    def __init__(self, sandbox):
        self.hook = graph_hook(sandbox)
        self.base = f"{sandbox.base_url}/v1.0"
        self.token = self.hook.get_token()

    def call(self, method: str, path: str, json=None, headers=None):
        return self.hook.session.request(method, self.base + path, json=json,
                                         headers={"Authorization": f"Bearer {self.token}", **(headers or {})})

    def batch(self, requests: list[dict], headers=None):
        return self.call("POST", "/$batch", {"requests": requests}, headers)


def gets(user: str, n: int, **extra) -> list[dict]:
    return [{"id": str(i + 1), "method": "GET", "url": f"/users/{user}/events?$top=1", **extra} for i in range(n)]


# ---------------------------------------------------------------------- B1, B2: envelope and dependency shapes
def test_b1_envelope_rules(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    assert raw.batch(gets(user, 21)).status_code == 400
    same_id_other_case = [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}]
    assert raw.batch(same_id_other_case).status_code == 400
    unknown_dependency = gets(user, 2)
    unknown_dependency[1]["dependsOn"] = ["9"]
    assert raw.batch(unknown_dependency).status_code == 400
    no_content_type = [{"id": "1", "method": "POST", "url": f"/users/{user}/events", "body": event()}]
    assert raw.batch(no_content_type).status_code == 400


@pytest.mark.parametrize(("depends", "shape_ok"), [
    ({}, True),  # parallel
    ({"2": ["1"], "3": ["2"], "4": ["3"], "5": ["4"], "6": ["5"]}, True),  # serial
    ({"2": ["1"], "3": ["1"], "4": ["1"], "5": ["1"], "6": ["1"]}, True),  # same
    ({"5": ["1"], "6": ["2"]}, False),  # our old lanes: c4 -> c0, c5 -> c1
    ({"3": ["1"], "4": ["2"]}, False),
    ({"2": ["1"], "3": ["1"], "4": ["3"]}, False),  # a fork that is neither
    ({"2": ["1", "3"]}, False),  # two dependencies
])
def test_b2_only_three_dependency_shapes(sandbox, depends, shape_ok):
    raw, user = Raw(sandbox), user_id(sandbox)
    requests = gets(user, 6)
    for sub in requests:
        if sub["id"] in depends:
            sub["dependsOn"] = depends[sub["id"]]
    answer = raw.batch(requests)
    if shape_ok:
        assert answer.status_code == 200 and len(answer.json()["responses"]) == 6
    else:
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == "Batch should be either fully sequential or fully parallel"


def test_b2_serial_failure_fails_the_rest_with_424(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    requests = [{"id": "1", "method": "GET", "url": f"/users/{user}/events/nope"}] + gets(user, 3)[1:]
    for before, sub in zip(requests, requests[1:], strict=False):
        sub["dependsOn"] = [before["id"]]
    statuses = {r["id"]: r["status"] for r in raw.batch(requests).json()["responses"]}
    assert statuses == {"1": 404, "2": 424, "3": 424}


# ---------------------------------------------------------------------- B4: no header inheritance
def test_b4_envelope_prefer_does_not_reach_sub_requests(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    created = graph_hook(sandbox).post(f"/users/{user}/events", event())
    prefer = {"Prefer": 'outlook.timezone="W. Europe Standard Time"'}
    sub = {"id": "1", "method": "GET", "url": f"/users/{user}/events/{created['id']}"}
    inherited = raw.batch([sub], headers=prefer).json()["responses"][0]["body"]
    assert inherited["start"]["timeZone"] == "UTC"  # the envelope's Prefer was not applied
    own = raw.batch([sub | {"headers": prefer}]).json()["responses"][0]["body"]
    assert own["start"] == {"dateTime": "2026-03-02T08:00:00.0000000", "timeZone": "W. Europe Standard Time"}


def test_b4_every_request_of_a_sync_asks_for_immutable_ids(sandbox):
    sync(sandbox)
    stats = sandbox.state.stats()
    assert stats["batch_calls"] > 0 and stats["without_immutable_id"] == 0


# ---------------------------------------------------------------------- B5: how a parallel batch runs
def test_b5_parallel_batch_execution_setting(sandbox):
    sandbox.state.reload(latency_ms=30, behaviour=sandbox.state.behaviour)
    raw, user = Raw(sandbox), user_id(sandbox)
    statuses = [r["status"] for r in raw.batch(gets(user, 8)).json()["responses"]]
    if sandbox.state.behaviour.batch_execution == "four_at_a_time":
        assert statuses == [200] * 8 and sandbox.state.stats()["max_in_flight"] == 4
    else:  # all at once: the mailbox refuses past 4
        assert sorted(statuses) == [200] * 4 + [429] * 4


def test_b5_sub_requests_run_at_once_are_in_flight_at_once_without_latency(sandbox):
    """A request takes time even at 0 ms: each waits one turn of the emulator's event loop, so the sub-requests
    of one wave are in flight together whatever the latency (with a thread per sub-request, how many
    overlapped at 0 ms was up to the scheduler)."""
    sandbox.state.reload(latency_ms=0, behaviour=sandbox.state.behaviour)
    raw, user = Raw(sandbox), user_id(sandbox)
    statuses = [r["status"] for r in raw.batch(gets(user, 8)).json()["responses"]]
    if sandbox.state.behaviour.batch_execution == "four_at_a_time":
        assert statuses == [200] * 8 and sandbox.state.stats()["max_in_flight"] == 4
    else:
        assert sorted(statuses) == [200] * 4 + [429] * 4


# ---------------------------------------------------------------------- R1: Retry-After
def test_r1_retry_after_is_whole_seconds_at_least_one(sandbox):
    sandbox.state.reload(faults=Faults(p429=1.0, retry_after=0.2), behaviour=sandbox.state.behaviour)
    answer = Raw(sandbox).call("GET", f"/users/{user_id(sandbox)}/events")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"


# ---------------------------------------------------------------------- F2, F3: faults after the write, token expiry
def test_f2_gateway_timeout_after_the_write(sandbox):
    sandbox.state.reload(faults=Faults(p504_after=1.0), behaviour=sandbox.state.behaviour)
    user = user_id(sandbox)
    answer = Raw(sandbox).call("POST", f"/users/{user}/events", event(subject="Trotzdem da"))
    assert answer.status_code == 504
    assert "Trotzdem da" in {e["subject"] for e in sandbox.state.mailbox_events(user)}


def test_f2_calendar_created_behind_a_gateway_timeout_is_found(sandbox, monkeypatch):
    hook = graph_hook(sandbox)
    user = user_id(sandbox)
    raw = Raw(sandbox)
    assert raw.call("POST", f"/users/{user}/calendars", {"name": "openHandwerk"}).status_code == 201
    real_find = hook._find_calendar
    answers = iter([None])  # the first look-up ran before the (timed-out) create landed
    monkeypatch.setattr(hook, "_find_calendar", lambda u, n: next(answers, None) or real_find(u, n))
    assert hook.ensure_calendar(user, "openHandwerk") == real_find(user, "openHandwerk")


def test_f3_token_expiring_inside_a_batch(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    sandbox.state.faults.expire_token_in_batch = True
    assert {r["status"] for r in raw.batch(gets(user, 3)).json()["responses"]} == {401}
    hook = graph_hook(sandbox)
    sandbox.state.faults.expire_token_in_batch = True
    items = [{"id": f"c{i}", "method": "POST", "url": f"/users/{user}/events", "body": event(subject=f"E{i}",
              transactionId=f"t{i}")} for i in range(6)]
    results = hook.batch(items)
    assert all(r.status == 201 for r in results.values()) and hook.stats.token_requests == 2
    assert sum(1 for e in sandbox.state.mailbox_events(user) if e["subject"].startswith("E")) == 6


# ---------------------------------------------------------------------- Q: queries
def test_q1_calendar_view_refuses_extended_property_queries(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    window = "startDateTime=2026-03-01T00:00:00&endDateTime=2026-04-01T00:00:00"
    ext = f"singleValueExtendedProperties($filter=id eq '{SOURCE_PROP}')"
    assert raw.call("GET", f"/users/{user}/calendarView?{window}&$expand={ext}").status_code == 500
    assert raw.call("GET", f"/users/{user}/calendarView?{window}&$top=2000").status_code == 200  # Q3


def test_q2_unknown_select_property(sandbox):
    answer = Raw(sandbox).call("GET", f"/users/{user_id(sandbox)}/events?$select=subject,colour")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Could not find a property named 'colour' on type 'microsoft.graph.event'."


def test_q4_extended_property_values_compare_case_insensitively(sandbox):
    hook, user = graph_hook(sandbox), user_id(sandbox)
    hook.post(f"/users/{user}/events", event(singleValueExtendedProperties=[{"id": SOURCE_PROP, "value": "OpenHandwerk:X"}]))
    found = hook.get(f"/users/{user}/events", params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE_PROP}' and ep/value eq 'openhandwerk:x')"})
    assert len(found["value"]) == 1


# ---------------------------------------------------------------------- T1, S1, schema shapes
@pytest.mark.parametrize("zone", ["Pacific SA Standard Time", "Sri Lanka Standard Time", "Europe/Kyiv", "Asia/Kolkata"])
def test_t1_every_windows_name_and_cldr_iana_name(sandbox, zone):
    created = graph_hook(sandbox).post(f"/users/{user_id(sandbox)}/events", event(
        start={"dateTime": "2026-03-02T08:00:00", "timeZone": zone}, end={"dateTime": "2026-03-02T09:00:00",
                                                                          "timeZone": zone}))
    assert created["id"]


def test_s1_recurrence_is_stored_and_returned(sandbox):
    hook, user = graph_hook(sandbox), user_id(sandbox)
    recurrence = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                  "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 4}}
    created = hook.post(f"/users/{user}/events", event(recurrence=recurrence))
    assert hook.get(f"/users/{user}/events/{created['id']}")["recurrence"] == recurrence
    with pytest.raises(errors.GraphError):
        hook.post(f"/users/{user}/events", event(recurrence={"pattern": {"type": "fortnightly"}, "range": {}}))


@pytest.mark.parametrize(("field", "value"), [("showAs", "away"), ("sensitivity", "secret"), ("importance", "urgent"),
                                              ("location", {"displayName": "X", "adress": {}})])
def test_schema_enums_and_nested_shapes_are_enforced(sandbox, field, value):
    with pytest.raises(errors.GraphError) as exc:
        graph_hook(sandbox).post(f"/users/{user_id(sandbox)}/events", event(**{field: value}))
    assert exc.value.status == 400


# ---------------------------------------------------------------------- E5, E6: location and its address
ADDRESS = {"street": "Hauptstraße 5", "postalCode": "50667", "city": "Köln"}


def test_e5_location_echo_per_setting(sandbox):
    hook, user = graph_hook(sandbox), user_id(sandbox)
    created = hook.post(f"/users/{user}/events", event(location={"displayName": "Kunde", "address": ADDRESS}))
    location = hook.get(f"/users/{user}/events/{created['id']}")["location"]
    assert (location["locationType"], location["uniqueId"], location["uniqueIdType"]) == ("default", "Kunde", "private")
    if sandbox.state.behaviour.address_echo == "all_keys":
        assert location["address"] == ADDRESS | {"state": "", "countryOrRegion": ""}
    else:
        assert location["address"] == ADDRESS
    with pytest.raises(errors.GraphError):  # physicalAddress has no house-number property
        hook.post(f"/users/{user}/events", event(location={"displayName": "K", "address": {"houseNumber": "5"}}))


def test_e6_a_patched_location_replaces_or_merges_per_setting(sandbox):
    hook, user = graph_hook(sandbox), user_id(sandbox)
    created = hook.post(f"/users/{user}/events", event(location={"displayName": "Kunde", "address": ADDRESS}))
    hook.patch(f"/users/{user}/events/{created['id']}", {"location": {"displayName": "Büro"}})
    location = hook.get(f"/users/{user}/events/{created['id']}")["location"]
    assert location["displayName"] == "Büro"
    if sandbox.state.behaviour.complex_patch == "merge":
        assert location["address"]["street"] == "Hauptstraße 5"
    else:
        assert "address" not in location


# ---------------------------------------------------------------------- G1: the master category list
def test_g1_master_categories_need_mailbox_settings_and_unique_names(sandbox):
    from devtools.sandbox import control

    user = user_id(sandbox)
    path = f"/users/{user}/outlook/masterCategories"
    with pytest.raises(errors.PermissionMissingError, match="MailboxSettings.ReadWrite"):
        graph_hook(sandbox).get(path)
    control.grant(sandbox.state, "MailboxSettings.Read")
    names = [c["displayName"] for c in graph_hook(sandbox).get(path)["value"]]
    assert "Rote Kategorie" in names
    with pytest.raises(errors.PermissionMissingError):
        graph_hook(sandbox).post(path, {"displayName": "Baustelle", "color": "preset1"})
    control.grant(sandbox.state, "MailboxSettings.ReadWrite")
    hook = graph_hook(sandbox)
    made = hook.post(path, {"displayName": "Baustelle", "color": "preset1"})
    assert made["color"] == "preset1" and made["id"]
    with pytest.raises(errors.GraphError) as again:
        hook.post(path, {"displayName": "BAUSTELLE", "color": "preset2"})
    assert again.value.status == (409 if sandbox.state.behaviour.duplicate_category == "conflict" else 400)
    for bad in ({"displayName": "X", "color": "orange"}, {"displayName": "X", "colour": "preset1"}, {"color": "preset1"}):
        with pytest.raises(errors.GraphError) as refused:
            hook.post(path, bad)
        assert refused.value.status == 400
    with pytest.raises(errors.GraphError):
        hook.patch(f"{path}/{made['id']}", {"displayName": "Montage"})
    assert hook.patch(f"{path}/{made['id']}", {"color": "preset7"})["color"] == "preset7"


# ---------------------------------------------------------------------- E1, P1: response details
def test_e1_request_ids_on_answers_and_errors(sandbox):
    raw = Raw(sandbox)
    answer = raw.call("GET", f"/users/{user_id(sandbox)}/events/nope", headers={"client-request-id": "abc-123"})
    inner = answer.json()["error"]["innerError"]
    assert answer.headers["client-request-id"] == "abc-123" and answer.headers["request-id"]
    assert inner["client-request-id"] == "abc-123" and inner["request-id"] == answer.headers["request-id"]
    assert inner["date"]


def test_p1_users_page_with_an_opaque_skiptoken(sandbox):
    next_link = unquote(Raw(sandbox).call("GET", "/users?$top=5").json()["@odata.nextLink"])
    assert "$skiptoken=" in next_link and "$skip=" not in next_link
    assert Raw(sandbox).call("GET", "/users?$top=5&$skiptoken=forged").status_code == 400


# ---------------------------------------------------------------------- A2: RBAC for Applications
def test_a2_rbac_scope_blocks_mailboxes_outside_it_and_mapping_reports_them(sandbox):
    sandbox.state.reload(rbac_scope=True, behaviour=sandbox.state.behaviour)
    hook = graph_hook(sandbox)
    with pytest.raises(errors.MailboxAccessDeniedError, match="management scope"):
        hook.get(f"/users/{user_id(sandbox, 'soeren.weiss@mueller-haustechnik.de')}/calendar")
    result, _ = run_user_mapping(hook, oh_hook(sandbox))
    outcomes = {e.employee_id: e.outcome for e in result.entries}
    assert outcomes == sandbox.state.data.expected_outcomes
    assert BLOCKED in outcomes.values() and MATCHED in outcomes.values()


# ---------------------------------------------------------------------- E7-E10: what Exchange keeps of texts and times
def keeps(**settings):
    """kept_fields under one setting: the emulation alone, no server needed."""
    from types import SimpleNamespace

    from devtools.sandbox.events import kept_fields
    from devtools.sandbox.state import Behaviour

    state = SimpleNamespace(behaviour=Behaviour(**settings))
    return lambda body: kept_fields(state, body)


LONG = "Wartung Heizung – Fam. Özdemir " + "🔧" * 12 + " " + "x" * 220  # 255 code points, 267 UTF-16 units


@pytest.mark.parametrize(("setting", "subject"), [
    ("truncate", LONG.encode("utf-16-le")[:510].decode("utf-16-le")),
    ("ellipsis", LONG.encode("utf-16-le")[:504].decode("utf-16-le") + "..."),
])
def test_e7_a_long_text_is_cut_per_setting(setting, subject):
    kept = keeps(long_text=setting)(event(subject=LONG, location={"displayName": LONG}, categories=[LONG]))
    assert kept["subject"] == kept["location"]["displayName"] == kept["categories"][0] == subject
    assert len(subject.encode("utf-16-le")) == 510
    short = "🔧" * 127 + "x"  # exactly 255 units: kept whole under every setting
    assert keeps(long_text=setting)(event(subject=short))["subject"] == short


def test_e7_a_long_text_is_refused_per_setting(sandbox):
    from devtools.sandbox.answers import GraphFault

    with pytest.raises(GraphFault) as refused:
        keeps(long_text="refuse")(event(subject=LONG))
    assert refused.value.status == 400 and "subject" in refused.value.message
    if sandbox.state.behaviour.long_text == "refuse":  # over the wire too
        raw, user = Raw(sandbox), user_id(sandbox)
        assert raw.call("POST", f"/users/{user}/calendar/events", event(subject=LONG)).status_code == 400


@pytest.mark.parametrize(("setting", "subject"), [("drop", "MontageKüche BlockB"), ("space", "Montage  Küche Block B"),
                                                   ("keep", "Montage\r\nKüche Block\tB")])
def test_e8_line_breaks_and_tabs_per_setting(setting, subject):
    kept = keeps(line_breaks=setting)(event(subject="Montage\r\nKüche Block\tB",
                                            location={"displayName": "Montage\r\nKüche Block\tB"}))
    assert kept["subject"] == kept["location"]["displayName"] == subject


def test_e9_seconds_per_setting():
    body = event(start={"dateTime": "2026-03-02T08:00:30", "timeZone": TZ}, end={"dateTime": "2026-03-02T09:59:59.5",
                                                                                  "timeZone": TZ})
    assert keeps(time_precision="seconds")(body)["start"]["dateTime"] == "2026-03-02T08:00:30"
    minutes = keeps(time_precision="minutes")(body)
    assert (minutes["start"]["dateTime"], minutes["end"]["dateTime"]) == ("2026-03-02T08:00:00", "2026-03-02T09:59:00")


def test_e10_repeated_categories_per_setting():
    body = event(categories=["Baustelle", "baustelle", "Montage", "BAUSTELLE"])
    assert keeps(event_categories="as_written")(body)["categories"] == body["categories"]
    assert keeps(event_categories="deduplicated")(body)["categories"] == ["Baustelle", "Montage"]


def test_e7_e10_the_stored_event_is_what_exchange_keeps(sandbox):
    raw, user = Raw(sandbox), user_id(sandbox)
    made = raw.call("POST", f"/users/{user}/calendar/events", event(subject="Montage\nKüche")).json()
    behaviour = sandbox.state.behaviour
    assert made["subject"] == {"drop": "MontageKüche", "space": "Montage Küche", "keep": "Montage\nKüche"}[
        behaviour.line_breaks]
