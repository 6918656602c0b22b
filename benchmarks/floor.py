"""The fewest HTTP requests an initial sync can make under Graph's `$batch` rules and issue 25's depth rule: pure.

Issue 25 asks for at most 1/15 of the competent client's requests, and for a write scheduler with no lane
deeper than ceil(n/4) for a mailbox of n writes (Outlook's 4 concurrent requests per mailbox: the bound).
Graph's rules (learn.microsoft.com/graph/json-batching, /graph/throttling; docs/sandbox-fidelity.md rows
B1-B5): at most 20 sub-requests a call; a call is serial (each sub-request depends on the one before: one in
flight, as deep as it is long) or parallel (no dependencies: all in flight, so at most 4 of one mailbox).

A mailbox's 4 slots are 4 columns of height ceil(n/4). A serial call fills up to 20 of one column; a parallel
call puts at most 4 sub-requests of a mailbox side by side. The floor here relaxes the rest in the client's
favour (a parallel call's sub-requests may go wherever a column has room, the read-back after the last
create costs no request), so it is a lower bound: no plan that keeps the depth rule makes fewer requests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

SIZE = 20  # sub-requests a `$batch` call takes
SLOTS = 4  # requests in flight per mailbox


def serial_options(n: int) -> dict[int, int]:
    """For a mailbox of `n` writes, no column deeper than ceil(n/4): for each count of writes left to parallel
    calls, the fewest serial calls that carry the rest ({writes left over: serial calls})."""
    depth = math.ceil(n / SLOTS)
    per_column = math.ceil(depth / SIZE)
    options: dict[int, int] = {}
    for calls in itertools.product(range(per_column + 1), repeat=SLOTS):
        carried = [min(SIZE * c, depth) for c in calls]
        left = max(0, n - sum(carried))
        if left <= sum(depth - c for c in carried):  # the parallel ones fit beside them
            options[left] = min(options.get(left, sum(calls)), sum(calls))
    return options


def own_calls(n: int) -> int:
    """The fewest write calls for a mailbox of `n` writes whose calls carry only its own sub-requests."""
    return min(serial + math.ceil(left / SLOTS) for left, serial in serial_options(n).items())


def shared_calls(writes: Iterable[int]) -> int:
    """The fewest write calls for these mailboxes when a parallel call carries up to 4 sub-requests of each of
    5 mailboxes (20 in all): their leftovers share calls."""
    fewest = {0: 0}  # leftover writes so far: fewest serial calls so far
    for n in writes:
        after: dict[int, int] = {}
        for so_far, serial in fewest.items():
            for left, calls in serial_options(n).items():
                key = so_far + left
                after[key] = min(after.get(key, serial + calls), serial + calls)
        fewest = after
    return min(serial + math.ceil(left / SIZE) for left, serial in fewest.items())


def request_floor(writes: dict[str, int], reads_per_mailbox: int = 4) -> dict[str, int]:
    """The floors for one initial sync: each mailbox read once (its GETs in one call) plus `own_calls` per
    mailbox ("own"); the reads and the leftovers of all mailboxes sharing calls ("shared"). The read-back
    is counted as free in both."""
    counts = list(writes.values())
    own = len(counts) + sum(own_calls(n) for n in counts)
    shared = math.ceil(reads_per_mailbox * len(counts) / SIZE) + shared_calls(counts)
    return {"own": own, "shared": shared}
