"""`$batch` (hooks/graph_batch.py) against requests-mock: Graph's three call shapes, at most four
sub-requests in flight per mailbox, ids mapped back, and only the failed ones sent again."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest
import requests_mock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oh_outlook_provider.exceptions import GraphError
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
    # 15 per small mailbox: parallel calls of 4 (4 round trips); 90: 12 first in 3 parallel calls, then 4 lanes
    # of 20 (one call each), 23 deep in all (before issue 25's head phase: 4 lanes of 23 deep, two calls each)
    assert len(calls) == 3 * 4 + 3 + 4
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


def test_a_deferred_body_is_built_when_its_call_goes_out_and_again_for_a_retry():
    """A large batch's bodies are built call by call: the first call leaves before the last body exists."""
    respond, calls = _batch_responder(throttle_ids={"b0"}, retry_after="0")
    built: list[tuple[str, int]] = []  # (item id, calls sent when its body was built)

    def body(item_id: str):
        def build() -> dict:
            built.append((item_id, len(calls)))
            return {"subject": item_id, "transactionId": f"t-{item_id}"}
        return build

    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        items = [{"id": f"b{i}", "method": "POST", "url": "/users/big/events", "body": body(f"b{i}")}
                 for i in range(100)]
        results = make_hook().batch(items)
    assert all(r.ok for r in results.values())
    sent = [s for c in calls for s in c["requests"]]
    assert {s["id"]: s["body"] for s in sent}["b57"] == {"subject": "b57", "transactionId": "t-b57"}
    assert sent[0]["headers"]["Content-Type"] == "application/json"
    assert max(n for _, n in built) > 0  # some bodies were built after the first call was answered
    assert [i for i, _ in built].count("b0") == 2  # the throttled one is built again for its retry, the same
    assert [s["body"] for s in sent if s["id"] == "b0"] == [{"subject": "b0", "transactionId": "t-b0"}] * 2


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


class EmulatedGraph:
    """Graph as a requests session (no requests-mock: it sends one request at a time under a global lock, so
    lanes would never overlap). Runs a `$batch` as Graph may (fidelity row B5): a serial call one sub-request
    at a time, a parallel one 4 at a time (`four_at_a_time`) or all at once (`all_at_once`). It counts
    sub-requests in flight per mailbox across the lanes' threads, answers 429 past 4 as Outlook does, and
    fails the sub-requests named in `fail` once (the rest of a chain: 424)."""

    def __init__(self, execution: str, fail: dict[str, int] | None = None, step: float = 0.001):
        self.execution = execution
        self.fail = dict(fail or {})
        self.step = step
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.over = 0
        self.calls: list[list[dict]] = []
        self.tokens: list[str] = []

    def _run(self, subs: list[dict]) -> list[dict]:
        with self.lock:
            for sub in subs:
                self.in_flight[mailbox_of(sub["url"])] += 1
            for mailbox in {mailbox_of(s["url"]) for s in subs}:
                self.peak[mailbox] = max(self.peak[mailbox], self.in_flight[mailbox])
            over = any(self.in_flight[mailbox_of(s["url"])] > 4 for s in subs)
            self.over += over
        time.sleep(self.step)  # the lanes' threads overlap here, as Outlook's requests do
        with self.lock:
            for sub in subs:
                self.in_flight[mailbox_of(sub["url"])] -= 1
            out = []
            for sub in subs:
                status = 429 if over else self.fail.pop(sub["id"], 201)
                out.append({"id": sub["id"], "status": status, "headers": {"Retry-After": "0"}, "body": {}})
            return out

    def answer(self, subs: list[dict], token: str) -> dict:
        with self.lock:
            self.calls.append(subs)
            self.tokens.append(token)
        answers: dict[str, dict] = {}
        if batch_shape(subs) == "serial":
            for sub in subs:
                if any(answers[d]["status"] >= 300 for d in sub.get("dependsOn", [])):
                    answers[sub["id"]] = {"id": sub["id"], "status": 424, "body": {}}
                else:
                    answers[sub["id"]] = self._run([sub])[0]
        else:
            width = 4 if self.execution == "four_at_a_time" else len(subs)
            for i in range(0, len(subs), width):
                answers.update((a["id"], a) for a in self._run(subs[i : i + width]))
        return {"responses": list(answers.values())}

    def request(self, method, url, params=None, data=None, headers=None):
        """requests.Session.request as Office365Hook._send calls it."""
        payload = self.answer(json.loads(data)["requests"], (headers or {}).get("Authorization", ""))
        content = json.dumps(payload).encode()
        return SimpleNamespace(status_code=200, content=content, headers={}, json=lambda: json.loads(content))


def graph_hook(graph: EmulatedGraph, tokens=("token-one", "token-two", "token-three")):
    """A hook whose session is `graph` and whose tokens come from `tokens` (a forced refresh takes the next)."""
    hook = make_hook()
    hook._session = graph
    issued = iter(tokens)
    current = [next(issued)]

    def get_token(force_refresh: bool = False) -> str:
        if force_refresh:
            current[0] = next(issued)
            hook._refreshes += 1
        return current[0]

    hook.get_token = get_token
    return hook


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=4), execution=st.sampled_from(["four_at_a_time",
                                                                                            "all_at_once"]),
       failures=st.sets(st.integers(0, 200), max_size=6))
def test_no_mailbox_ever_has_more_than_four_in_flight_and_every_sub_request_is_answered(sizes, execution, failures):
    """Under both ways Graph runs a parallel batch, with throttled and failing sub-requests sent again while
    the other lanes run: the limiter and the plan keep every mailbox at 4 at most, at every moment."""
    items = [{"id": f"m{k}-{i}", "method": "POST", "url": f"/users/m{k}/events", "body": {"transactionId": f"{k}-{i}"}}
             for k, n in enumerate(sizes) for i in range(n)]
    fail = {items[i % len(items)]["id"]: (429 if i % 2 else 503) for i in failures}
    graph = EmulatedGraph(execution, fail)
    results = graph_hook(graph).batch(items)
    assert graph.over == 0 and all(n <= 4 for n in graph.peak.values()), graph.peak
    assert sorted(results) == sorted(i["id"] for i in items) and all(r.ok for r in results.values())
    for call in graph.calls:
        assert batch_shape(call) in ("parallel", "serial") and len(call) <= 20


def test_a_big_mailbox_keeps_four_in_flight():
    """The lanes really overlap (the emulation would show a plan that serialises them)."""
    graph = EmulatedGraph("four_at_a_time", step=0.005)
    graph_hook(graph).batch([{"id": f"e{i}", "method": "DELETE", "url": f"/users/big/events/e{i}"} for i in range(80)])
    assert graph.peak["big"] == 4 and graph.over == 0


def test_a_failure_midway_spreads_the_rest_of_its_chain_over_the_lanes():
    """Work-conserving: the throttled sub-request and the 424s after it go out again as short chains the
    lanes share, not as one chain as deep as the one that failed."""
    items = [{"id": f"e{i}", "method": "DELETE", "url": f"/users/big/events/e{i}"} for i in range(80)]
    graph = EmulatedGraph("four_at_a_time", {"e1": 429})
    results = graph_hook(graph).batch(items)
    assert all(r.ok for r in results.values())
    # four lanes of 20; e1 (throttled) and e2..e19 (424) again as four chains: ceil(19/4) deep, not 19
    assert sorted(len(c) for c in graph.calls) == [4, 5, 5, 5, 20, 20, 20, 20]


def test_a_token_expired_under_several_lanes_is_renewed_once_and_their_sub_requests_sent_again():
    """Row F3: the lanes' calls that went out with the old token all come back 401; one refresh serves them all."""
    all_four_out = threading.Barrier(4, timeout=10)  # the four lanes' first calls are all out before any answer

    class Expiring(EmulatedGraph):
        def answer(self, subs, token):
            if token == "Bearer token-one":
                with self.lock:
                    self.tokens.append(token)
                all_four_out.wait()
                return {"responses": [{"id": s["id"], "status": 401, "body": {}} for s in subs]}
            return super().answer(subs, token)

    graph = Expiring("four_at_a_time")
    hook = graph_hook(graph)
    results = hook.batch([{"id": f"e{i}", "method": "DELETE", "url": f"/users/big/events/e{i}"} for i in range(80)])
    assert all(r.ok for r in results.values())
    assert hook._refreshes == 1 and graph.tokens.count("Bearer token-one") == 4
    assert set(graph.tokens) == {"Bearer token-one", "Bearer token-two"}  # no second renewal


def test_a_fresh_token_refused_too_is_a_final_answer_not_a_loop():
    class Refusing(EmulatedGraph):
        def answer(self, subs, token):
            self.tokens.append(token)
            return {"responses": [{"id": s["id"], "status": 401, "body": {}} for s in subs]}

    graph = Refusing("four_at_a_time")
    results = graph_hook(graph).batch([{"id": "a", "method": "GET", "url": "/users/u1/events"}])
    assert results["a"].status == 401 and graph.tokens == ["Bearer token-one", "Bearer token-two"]


def test_a_refused_call_stops_every_lane_and_raises_instead_of_hanging():
    """A `$batch` refused as a whole (400) is an error of the batch: the other lanes stop taking work."""

    class Refused(EmulatedGraph):
        sent = 0

        def request(self, method, url, params=None, data=None, headers=None):
            with self.lock:
                self.sent += 1
                first = self.sent == 1
            if first:
                content = json.dumps({"error": {"code": "BadRequest", "message": "Invalid batch payload format."}})
                return SimpleNamespace(status_code=400, content=content.encode(), headers={},
                                       json=lambda: json.loads(content))
            return super().request(method, url, params, data, headers)

    graph = Refused("four_at_a_time")
    items = [{"id": f"e{i}", "method": "DELETE", "url": f"/users/big/events/e{i}"} for i in range(200)]
    with pytest.raises(GraphError):
        graph_hook(graph).batch(items)
    assert graph.sent < 12  # the lanes stopped: 200 deletes are 12 calls (4 lanes x 3)


def _creates_in_one_mailbox(n: int, respond) -> dict:
    """`n` creates in mailbox "a" through the hook's `batch`, Graph answering with `respond`."""
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(f"{GRAPH}/$batch", json=respond)
        items = [{"id": str(i), "method": "POST", "url": "/users/a/events", "body": {"subject": str(i)}}
                 for i in range(n)]
        return make_hook().batch(items)


def test_a_large_mailboxs_head_is_answered_before_its_lanes_start():
    """Issue 25: 170 writes go out as 3 parallel calls of 4, one after another, and only then as lanes of 40
    (8 serial calls of about 20): 11 calls where lanes alone made 12, never more than 4 in flight."""
    respond, calls = _batch_responder()
    results = _creates_in_one_mailbox(170, respond)
    assert sorted(results, key=int) == [str(i) for i in range(170)] and all(r.ok for r in results.values())
    assert [(batch_shape(c["requests"]), len(c["requests"])) for c in calls[:3]] == [("parallel", 4)] * 3
    assert [batch_shape(c["requests"]) for c in calls[3:]] == ["serial"] * 8
    assert [s["id"] for c in calls[:3] for s in c["requests"]] == [str(i) for i in range(12)]


def test_a_throttled_head_waits_its_retry_after_beside_the_lanes_not_before_them():
    """Review of issue 25's head phase: a head sub-request answered 429 is sent again after its Retry-After while
    the mailbox's lanes already write; before, the lanes waited for it."""
    respond, calls = _batch_responder(throttle_ids={"0"}, retry_after="1")
    results = _creates_in_one_mailbox(170, respond)
    assert all(r.ok for r in results.values()) and len(results) == 170
    sent_zero = [k for k, c in enumerate(calls) if "0" in {s["id"] for s in c["requests"]}]
    first_serial = next(k for k, c in enumerate(calls) if batch_shape(c["requests"]) == "serial")
    assert len(sent_zero) == 2 and sent_zero[0] < first_serial < sent_zero[1]
    assert sum(len(c["requests"]) for c in calls) == 171  # every write once, the throttled one twice
