"""The request floor of benchmarks/floor.py: hand-worked cases, and the real planner never below it."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.floor import own_calls, request_floor, serial_options, shared_calls
from oh_outlook_provider.hooks.batching import lane_depth, plan_calls
from oh_outlook_provider.hooks.graph_batch import mailbox_of


def test_a_mailbox_of_170_writes_needs_11_calls_of_its_own():
    """Depth 43: two serial calls a column carry 160 at depth 40, the other 10 go in 3 parallel calls of 4
    beside them (depth 43). 10 calls carry at most 167: two columns of three serial calls and two of two
    (2 x 43 + 2 x 40 = 166), or one of three, three of two and a parallel call of 4 (43 + 120 + 4)."""
    assert own_calls(170) == 11
    assert serial_options(170)[10] == 8


def test_small_and_exact_mailboxes():
    assert own_calls(4) == 1  # one parallel call
    assert own_calls(16) == 4  # four columns of 4, or 4 parallel calls of 4
    assert own_calls(80) == 4  # four columns of 20
    assert own_calls(81) == 5  # depth 21: four columns of 20 and one parallel call


def test_shared_calls_pool_the_leftovers_of_mailboxes():
    assert shared_calls([170] * 5) == 5 * 8 + math.ceil(5 * 10 / 20)
    assert shared_calls([170] * 5, per_call=4) == 5 * 8 + math.ceil(5 * 10 / 4)
    assert shared_calls([170]) == 8 + 1  # the 10 left in one call of 20 (a lower bound: 4 per mailbox per call)


def test_the_benchmarks_mailboxes_cannot_reach_a_fifteenth_without_a_round_trip_more():
    """The benchmark's 20 mailboxes (seed 42): 3,386 creates, the competent client's 3,406 requests; a fifteenth
    is 227. Our plan: 20 reads, 212 write calls, 5 read-back calls; no plan without a round trip more under
    Graph's current behaviour goes below 230; only calls of 20 run at once would."""
    writes = [156, 161, 162, 163, 167, 167, 168, 168, 168, 169, 169, 170, 170, 170, 173, 174, 175, 177, 178, 181]
    assert sum(writes) == 3386
    floor = request_floor({f"m{i}": n for i, n in enumerate(writes)})
    assert floor["own"] == 20 + 212 + 5 == 237
    assert floor["four_at_a_time"] == 20 + 205 + 5 == 230 > 3406 / 15
    assert floor["all_at_once"] == 4 + 170 + 1 < 3406 / 15


@given(st.integers(min_value=1, max_value=400))
def test_the_planner_keeps_the_depth_rule_and_never_makes_fewer_calls_than_the_floor(n):
    items = [{"id": str(i), "method": "POST", "url": "/users/u1/events"} for i in range(n)]
    lanes = plan_calls(items, mailbox_of)
    calls = sum(len(lane) for lane in lanes)
    assert max(lane_depth(lane) for lane in lanes) <= math.ceil(n / 4)
    assert calls >= own_calls(n)
