"""`$batch` (hooks/graph_batch.py) against requests-mock: Graph's three call shapes, at most four
sub-requests in flight per mailbox, ids mapped back, and only the failed ones sent again."""

from __future__ import annotations

import json

import requests_mock

from oh_outlook_provider.hooks.graph_batch import mailbox_of
from tests.unit.support.graph_mock import GRAPH, make_hook, mock_entra


def _batch_responder(throttle_ids=(), retry_after="1.5"):
    calls = []
    seen = set()

    def respond(request, context):
        body = request.json()
        calls.append(body)
        out = []
        for sub in body["requests"]:
            if sub["id"] in throttle_ids and sub["id"] not in seen:
                seen.add(sub["id"])
                out.append({"id": sub["id"], "status": 429, "headers": {"Retry-After": retry_after},
                            "body": {"error": {"code": "ApplicationThrottled"}}})
            else:
                out.append({"id": sub["id"], "status": 201, "body": {"id": "ev-" + sub["id"]}})
        return {"responses": list(reversed(out))}

    return respond, calls


def batch_shape(requests: list[dict]) -> str:
    """Which of Graph's dependency shapes a `$batch` body has (json-batching, "known issues"): none
    depends on another (parallel), each on the one before (serial), or all on one (same); else "mixed"."""
    depends = [tuple(r.get("dependsOn") or ()) for r in requests]
    if not any(depends):
        return "parallel"
    if depends[0] == () and all(d == (before["id"],) for d, before in zip(depends[1:], requests, strict=False)):
        return "serial"
    if depends[0] == () and len(set(depends[1:])) == 1 and depends[1] == (requests[0]["id"],):
        return "same"
    return "mixed"


def test_batch_sends_only_graphs_three_shapes_and_maps_by_id():
    """Fidelity row B2: the old four-lane dependsOn chains would be refused as a whole."""
    respond, calls = _batch_responder()
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        items = [{"id": str(i), "method": "POST", "url": f"/users/u{i % 3}/events", "body": {"subject": str(i)}}
                 for i in range(45)] + [{"id": f"big{i}", "method": "DELETE", "url": f"/users/big/events/e{i}"}
                                        for i in range(90)]
        results = make_hook().batch(items)
    assert sorted(results) == sorted(i["id"] for i in items)
    assert results["17"].body == {"id": "ev-17"} and results["17"].ok
    assert all(batch_shape(c["requests"]) in ("parallel", "serial") for c in calls)
    for call in calls:
        mailboxes = {s["url"].split("/")[2] for s in call["requests"]}
        assert len(mailboxes) == 1 and len(call["requests"]) <= 20
        if batch_shape(call["requests"]) == "parallel":  # at most 4 at once, however Graph runs it
            assert len(call["requests"]) <= 4
    # 15 per small mailbox: parallel calls of 4 (4 round trips); 90: ceil(90/20) = 5 serial calls
    assert len(calls) == 3 * 4 + 5
    # lanes run in threads, so calls arrive in any order: look at a call with a body
    posted = next(c["requests"] for c in calls if c["requests"][0]["method"] == "POST")
    assert posted[0]["headers"]["Content-Type"] == "application/json"
    assert all("Content-Type" not in s["headers"] for c in calls for s in c["requests"] if s["method"] == "DELETE")
    assert all(s["headers"]["Prefer"] == 'IdType="ImmutableId"' for c in calls for s in c["requests"])


def test_batch_resends_only_throttled_items_after_largest_retry_after():
    respond, calls = _batch_responder(throttle_ids={"3", "7"}, retry_after="2.128")
    sleeps: list[float] = []
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        items = [{"id": str(i), "method": "GET", "url": f"/users/u{i}/events"} for i in range(10)]
        results = make_hook(sleeps).batch(items)
    assert [sorted(s["id"] for s in c["requests"]) for c in calls] == [[str(i) for i in range(10)], ["3", "7"]]
    assert sleeps == [2.128]
    assert all(r.ok for r in results.values())


def test_mailbox_of_paths():
    assert mailbox_of("/users/ABC/events") == "abc"
    assert mailbox_of("/users/a%40b.de/calendar?$select=id") == "a@b.de"
    assert mailbox_of("/users") is None and mailbox_of("/users/abc") is None


def test_batch_body_is_json_with_relative_urls():
    respond, calls = _batch_responder()
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        make_hook().batch([{"id": "a", "method": "PATCH", "url": "/users/u1/events/e1", "body": {"subject": "x"}}])
        sent = json.loads(m.request_history[-1].text)
    assert sent["requests"][0]["url"] == "/users/u1/events/e1"


def test_batch_resends_server_errors_and_failed_dependencies_only():
    calls = []

    def respond(request, context):
        body = request.json()
        calls.append(sorted(s["id"] for s in body["requests"]))
        first = len(calls) == 1
        status = {"a": 500 if first else 201, "b": 424 if first else 201, "c": 400, "d": 201}
        return {"responses": [{"id": s["id"], "status": status[s["id"]], "body": {}} for s in body["requests"]]}

    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        items = [{"id": i, "method": "POST", "url": f"/users/u{i}/events", "body": {"transactionId": i}} for i in "abcd"]
        results = make_hook().batch(items)
    assert calls == [["a", "b", "c", "d"], ["a", "b"]]
    assert {k: r.status for k, r in results.items()} == {"a": 201, "b": 201, "c": 400, "d": 201}
