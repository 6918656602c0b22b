"""The fewest HTTP requests an initial sync can make under Graph's `$batch` rules and issue 25's depth rule: pure.

Issue 25 asks for at most 1/15 of the competent client's requests, and for a write scheduler with no lane
deeper than ceil(n/4) for a mailbox of n writes (Outlook's 4 concurrent requests per mailbox: the bound).
Graph's rules (learn.microsoft.com/graph/json-batching, /graph/throttling; docs/sandbox-fidelity.md rows
B1-B5): at most 20 sub-requests a call; a call is serial (each sub-request depends on the one before: one in
flight, as deep as it is long) or parallel (no dependencies: all in flight, so at most 4 of one mailbox); and
in the documented current behaviour Graph runs at most 4 sub-requests of a batch at a time whatever their
mailboxes (row B5), so a parallel call of more than 4 takes a round trip per 4.

A mailbox's 4 slots are 4 columns of height ceil(n/4). A serial call fills up to 20 of one column; a parallel
call puts sub-requests side by side. The floors relax the rest in the client's favour (a parallel call's
sub-requests may go wherever a column has room), so no plan that keeps the depth rule does better:
- `own`: each mailbox's calls its own: its read (4 GETs: one call), `own_calls` for its writes, and the
  read-backs of 4 mailboxes a call. What `hooks/batching` and `runners/read_backs` send.
- `four_at_a_time`: no round trip added under row B5's current behaviour: the same, with the writes left over
  beside the serial calls shared by mailboxes in parallel calls of 4.
- `all_at_once`: as if Graph ran every sub-request of a call at once (row B5's older behaviour): reads,
  leftovers and read-backs shared in calls of 20 (under the current behaviour each such call takes 5 round
  trips).
A read-back folded into a write call would have to follow every create of its mailbox, after all its lanes:
a round trip more than a read-back of its own, so the floors count it as a GET.
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


def shared_calls(writes: Iterable[int], per_call: int = SIZE) -> int:
    """The fewest write calls for these mailboxes when the writes left over beside each mailbox's serial calls
    share parallel calls of `per_call` sub-requests (at most 4 of a mailbox in each: a relaxation here)."""
    fewest = {0: 0}  # leftover writes so far: fewest serial calls so far
    for n in writes:
        after: dict[int, int] = {}
        options = serial_options(n)
        for so_far, serial in fewest.items():
            for left, calls in options.items():
                key = so_far + left
                after[key] = min(after.get(key, serial + calls), serial + calls)
        fewest = after
    return min(serial + math.ceil(left / per_call) for left, serial in fewest.items())


def request_floor(writes: dict[str, int], reads_per_mailbox: int = 4) -> dict[str, int]:
    """The floors for one initial sync of these mailboxes (writes per mailbox): see the module's docstring."""
    counts = list(writes.values())
    mailboxes = len(counts)
    read_backs = math.ceil(mailboxes / SLOTS)
    reads = mailboxes * math.ceil(reads_per_mailbox / SLOTS)
    return {
        "own": reads + sum(own_calls(n) for n in counts) + read_backs,
        "four_at_a_time": reads + shared_calls(counts, SLOTS) + read_backs,
        "all_at_once": math.ceil(reads_per_mailbox * mailboxes / SIZE) + shared_calls(counts) + math.ceil(
            mailboxes / SIZE),
    }
