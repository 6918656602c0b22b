"""How sub-requests are cut into `$batch` calls: Graph's shapes, 4 per mailbox, the fewest requests."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.hooks.batching import Call, call_body, plan_calls
from oh_outlook_provider.hooks.office365 import mailbox_of


def items(mailbox: str, n: int, start: int = 0) -> list[dict]:
    return [{"id": f"{mailbox}-{i}", "method": "POST", "url": f"/users/{mailbox}/events"} for i in range(start, start + n)]


def flat(lanes: list[list[Call]]) -> list[Call]:
    return [call for lane in lanes for call in lane]


def test_small_mailboxes_share_parallel_calls_of_up_to_twenty():
    lanes = plan_calls(items("a", 4) + items("b", 4) + items("c", 4) + items("d", 4) + items("e", 4) + items("f", 2),
                       mailbox_of)
    calls = flat(lanes)
    assert all(len(lane) == 1 for lane in lanes)  # each a lane of its own: they run at once
    assert [len(c.items) for c in calls] == [20, 2] and {c.shape for c in calls} == {"parallel"}
    assert calls[0].slots() == {"a": 4, "b": 4, "c": 4, "d": 4, "e": 4}


def test_up_to_sixteen_in_one_mailbox_are_parallel_calls_of_four_one_after_another():
    lanes = plan_calls(items("a", 15), mailbox_of)
    assert len(lanes) == 1
    assert [(c.shape, len(c.items)) for c in lanes[0]] == [("parallel", 4)] * 3 + [("parallel", 3)]
    assert [i["id"] for c in lanes[0] for i in c.items] == [f"a-{i}" for i in range(15)]  # order kept


def test_more_than_sixteen_are_serial_chains_over_four_balanced_lanes():
    lanes = plan_calls(items("big", 90), mailbox_of)
    calls = flat(lanes)
    assert len(lanes) == 4 and len(calls) == math.ceil(90 / 20)
    assert all(c.shape == "serial" and len(c.items) <= 20 for c in calls)
    assert sorted(sum(len(c.items) for c in lane) for lane in lanes) == [20, 20, 20, 30]
    assert all(c.slots() == {"big": 1} for c in calls)  # a chain runs one at a time whatever Graph does


def test_seventeen_items_still_use_four_lanes():
    lanes = plan_calls(items("a", 17), mailbox_of)
    assert len(lanes) == 4 and sorted(sum(len(c.items) for c in lane) for lane in lanes) == [4, 4, 4, 5]


def test_a_chunk_of_one_is_sent_as_parallel_not_as_a_chain_of_one():
    call = Call("parallel", tuple(items("a", 1)), ("a",))
    assert call_body(call, dict) == [dict(items("a", 1)[0])]
    lanes = plan_calls(items("a", 17), mailbox_of, size=1)  # chunks of one: no dependsOn anywhere
    assert {c.shape for c in flat(lanes)} == {"parallel"} and len(flat(lanes)) == 17


def test_calls_outside_outlook_have_no_mailbox_limit():
    users = [{"id": f"u{i}", "method": "GET", "url": f"/users?$skip={i}"} for i in range(25)]
    calls = flat(plan_calls(users, mailbox_of))
    assert [len(c.items) for c in calls] == [20, 5] and calls[0].slots() == {}


def test_the_body_of_a_serial_call_chains_each_request_to_the_one_before():
    call = Call("serial", tuple(items("a", 3)), ("a",) * 3)
    body = call_body(call, lambda item: {"id": item["id"], "method": item["method"], "url": item["url"]})
    assert [b.get("dependsOn") for b in body] == [None, ["a-0"], ["a-1"]]
    parallel = call_body(Call("parallel", tuple(items("a", 3)), ("a",) * 3), dict)
    assert all("dependsOn" not in b for b in parallel)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(1, 70)), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_every_item_is_sent_once_and_no_mailbox_ever_has_more_than_four_in_flight(sizes):
    given_items = [item for mailbox, n in sizes for item in items(mailbox, n)]
    lanes = plan_calls(given_items, mailbox_of)
    calls = flat(lanes)
    assert sorted(i["id"] for c in calls for i in c.items) == sorted(i["id"] for i in given_items)
    assert all(len(c.items) <= 20 for c in calls)
    for call in calls:
        assert call.shape in ("parallel", "serial")
        assert all(n <= 4 for n in call.slots().values())
        if call.shape == "serial":
            assert len(set(call.mailboxes)) == 1
    at_once: Counter[str] = Counter()  # lanes run at once, the calls of a lane one after another
    for lane in lanes:
        for mailbox in {m for c in lane for m in c.mailboxes if m}:
            at_once[mailbox] += max(c.slots().get(mailbox, 0) for c in lane)
    assert all(n <= 4 for n in at_once.values()), at_once
    for mailbox, n in sizes:  # the fewest HTTP requests $batch allows, once a mailbox has more than 16
        mine = [c for c in calls if set(c.mailboxes) == {mailbox}]
        if n > 16:
            assert len(mine) == max(math.ceil(n / 20), 4)
