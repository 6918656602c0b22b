"""How sub-requests are cut into `$batch` calls: Graph's shapes, 4 per mailbox, lanes balanced by depth with the
fewest requests that depth allows, and the work-conserving queue the lanes share."""

from __future__ import annotations

import math
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.floor import own_calls
from oh_outlook_provider.hooks.batching import (
    Call,
    LaneQueue,
    call_body,
    head_size,
    lane_depth,
    phases,
    plan_calls,
    retry_calls,
)
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


def test_more_than_sixteen_are_serial_chains_over_four_lanes_balanced_by_depth():
    lanes = plan_calls(items("big", 90), mailbox_of)
    calls = flat(lanes)
    assert len(lanes) == 4 and all(c.shape == "serial" and len(c.items) <= 20 for c in calls)
    assert sorted(lane_depth(lane) for lane in lanes) == [22, 22, 23, 23]  # ceil(90/4) = 23, not 20/20/20/30
    assert len(calls) == 8  # 23 needs two calls a lane; capacity alone (5 calls) would leave a lane 30 deep
    assert all(c.slots() == {"big": 1} for c in calls)  # a chain runs one at a time whatever Graph does


def test_the_issues_170_writes_are_43_deep_not_50():
    """Issue 25: balanced by capacity the lanes were 40/40/40/50 deep; by depth none is deeper than ceil(170/4)."""
    lanes = plan_calls(items("a", 170), mailbox_of)
    assert max(lane_depth(lane) for lane in lanes) == 43 and sum(lane_depth(lane) for lane in lanes) == 170
    assert len(flat(lanes)) == 12  # the fewest calls of at most 20 that keep every lane at most 43 deep


def test_a_lane_gives_up_a_call_when_the_others_still_hold_everything():
    lanes = plan_calls(items("a", 79), mailbox_of)  # depth 20: one call a lane would hold 80
    assert [len(lane) for lane in lanes] == [1, 1, 1, 1] and max(lane_depth(lane) for lane in lanes) == 20
    lanes = plan_calls(items("a", 161), mailbox_of)  # depth 41: three lanes of 2 calls (40 deep), one of 3
    assert sorted(len(lane) for lane in lanes) == [2, 2, 2, 3] and max(lane_depth(lane) for lane in lanes) == 41
    assert len(flat(lanes)) == math.ceil(161 / 20)  # here depth costs no extra request


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
    for mailbox, n in sizes:  # balanced by depth: no lane deeper than ceil(n/4), with few calls
        mine = [c for c in calls if set(c.mailboxes) == {mailbox}]
        deepest = max(lane_depth([c for c in lane if mailbox in c.mailboxes]) for lane in lanes)
        assert deepest == math.ceil(n / 4)
        if n > 16:
            assert math.ceil(n / 20) <= len(mine) <= 4 * math.ceil(math.ceil(n / 4) / 20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(1, 70)), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_calls_sent_again_hold_one_slot_each_and_at_most_four_per_mailbox(sizes):
    given_items = [item for mailbox, n in sizes for item in items(mailbox, n)]
    calls = retry_calls(given_items, mailbox_of)
    assert sorted(i["id"] for c in calls for i in c.items) == sorted(i["id"] for i in given_items)
    for mailbox, n in sizes:
        mine = [c for c in calls if mailbox in c.mailboxes]
        assert all(c.slots()[mailbox] == 1 for c in mine)  # fits beside the lanes still running
        assert len(mine) <= 4 * math.ceil(math.ceil(n / 4) / 20)
        assert max(c.depth if c.shape == "serial" else 1 for c in mine) <= math.ceil(n / min(4, n))


def test_one_sub_request_each_of_several_mailboxes_share_a_call():
    calls = retry_calls(items("a", 1) + items("b", 1) + items("c", 2), mailbox_of)
    assert [c.mailboxes for c in calls] == [("a", "b", "c"), ("c",)]


def test_a_lane_that_runs_dry_takes_the_last_waiting_call_of_the_deepest_lane():
    a = [Call("serial", tuple(items("a", 5, k * 5)), ("a",) * 5) for k in range(3)]
    b = [Call("serial", tuple(items("b", 2)), ("b",) * 2)]
    queue = LaneQueue([a, b])
    assert queue.take(1) == b[0]
    queue.done()
    assert queue.take(1) == a[2]  # stolen from the end: the owner keeps its order
    assert queue.take(0) == a[0]
    queue.done()
    queue.done()
    assert queue.take(0) == a[1]
    queue.done()
    assert queue.take(0) is None and queue.take(1) is None


def test_work_handed_back_goes_to_the_shallowest_lane_and_an_idle_lane_waits_for_it():
    a = [Call("serial", tuple(items("a", 5)), ("a",) * 5)]
    queue = LaneQueue([a, []])
    assert queue.take(0) == a[0]
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(queue.take(1)))
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive()  # nothing waiting, but a call is out: it may hand work back
    again = Call("parallel", tuple(items("a", 1, 9)), ("a",))
    queue.put([again])
    waiter.join(5)
    assert got == [again]
    queue.done()
    queue.done()
    assert queue.take(0) is None


def test_stop_releases_every_waiting_lane():
    queue = LaneQueue([[Call("parallel", tuple(items("a", 1)), ("a",))], []])
    queue.take(0)
    waiter = threading.Thread(target=queue.take, args=(1,))
    waiter.start()
    queue.stop()
    waiter.join(5)
    assert not waiter.is_alive() and queue.take(0) is None


@pytest.mark.parametrize("n", [1, 4, 5, 16, 17, 20, 21, 80, 81, 100, 170, 999])
def test_every_lane_of_a_mailbox_is_at_most_ceil_n_over_4_deep(n):
    lanes = plan_calls(items("a", n), mailbox_of)
    assert max(lane_depth(lane) for lane in lanes) == math.ceil(n / 4)
    assert sum(len(c.items) for c in flat(lanes)) == n


def test_the_issues_170_writes_take_11_calls_12_first_in_parallel_then_lanes_of_40():
    """Issue 25: lanes alone need 12 calls for 170 (3 each at a depth of 43); 12 first in 3 parallel calls of 4,
    then 158 in lanes of 40 (2 calls each): 11 calls, 3 + 40 = 43 deep."""
    assert head_size(170) == 12
    first, rest = phases(items("a", 170) + items("b", 3), mailbox_of)
    assert [i["id"] for i in first] == [f"a-{i}" for i in range(12)] and len(rest) == 158 + 3
    head, lanes = plan_calls(first, mailbox_of), plan_calls(rest, mailbox_of)
    assert [(c.shape, len(c.items)) for c in flat(head)] == [("parallel", 4)] * 3
    a_lanes = [lane for lane in lanes if lane[0].mailboxes[0] == "a"]
    assert [lane_depth(lane) for lane in a_lanes] == [40, 40, 39, 39] and len(flat(a_lanes)) == 8


def test_one_phase_when_no_mailbox_saves_calls_by_going_first():
    assert phases(items("a", 160) + items("b", 15), mailbox_of) == [items("a", 160) + items("b", 15)]
    assert head_size(16) == head_size(160) == head_size(181) == 0


@given(st.integers(min_value=1, max_value=600))
@settings(max_examples=200, deadline=None)
def test_the_phases_keep_the_depth_rule_and_make_the_fewest_calls_a_mailboxs_own_calls_allow(n):
    """The head's calls and the lanes after them, one after another: no deeper than ceil(n/4), and as many
    calls as `benchmarks/floor.py` finds at the least for a mailbox whose calls are its own."""
    planned = [plan_calls(phase, mailbox_of) for phase in phases(items("a", n), mailbox_of)]
    assert sum(max(lane_depth(lane) for lane in lanes) for lanes in planned) <= math.ceil(n / 4)
    assert sum(len(flat(lanes)) for lanes in planned) == own_calls(n)
    assert sorted(i["id"] for lanes in planned for c in flat(lanes) for i in c.items) == sorted(
        i["id"] for i in items("a", n))
