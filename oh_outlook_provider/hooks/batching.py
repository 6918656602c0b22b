"""How sub-requests are cut into `$batch` calls: pure, so the choice can be tested and measured.

Graph accepts three dependency shapes in one batch (parallel, serial, same: json-batching,
"known issues"), and how it runs a parallel batch against Outlook is documented two ways:
at most 4 sub-requests of a batch at a time (throttling page, current revision), or all at
once with 429 MailboxConcurrency past 4 per mailbox (older revisions, field reports). Both
are emulated by the sandbox (docs/sandbox-fidelity.md, rows B2 and B5).

The plan that is right and fast under both:
- a mailbox with at most 16 sub-requests gets *parallel* calls of at most `per_mailbox` (4),
  one after another: a round trip each, never more than 4 in flight for that mailbox either way,
  and no more requests than lanes would need;
- a mailbox with more gets *serial* calls (each sub-request depends on the one before, so
  exactly one runs at a time whatever Graph's execution), at most `size` (20) each, spread
  over `per_mailbox` lanes that run at once; the lanes are balanced, so the mailbox's writes
  take about n/4 round trips of Graph's time, the bound Outlook's concurrency limit sets,
  with ceil(n/20) HTTP requests, the fewest `$batch` allows.
Mailboxes with at most 4 sub-requests share parallel calls of up to 20 (still at most 4 per
mailbox). Parallel batches of 4 would need 5x the HTTP requests; parallel batches of 20 to one mailbox
break under "all at once" (16 of 20 answered 429). The cost of serial: a failure turns the
rest of its chain into 424, which is sent again in the next round (benchmarks/run.py measures
both executions, with and without faults).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One `$batch` HTTP request: its sub-requests, the mailbox of each, and their dependency shape."""

    shape: str  # "parallel" | "serial"
    items: tuple[dict, ...]
    mailboxes: tuple[str | None, ...]

    def slots(self) -> dict[str, int]:
        """Requests this call keeps in flight per mailbox on Graph's side."""
        if self.shape == "serial":
            return {m: 1 for m in self.mailboxes if m is not None}
        return dict(Counter(m for m in self.mailboxes if m is not None))


def _balanced(n: int, lanes: int, chunks: int, size: int) -> list[list[int]]:
    """Chunk sizes per lane: `chunks` chunks of at most `size`, lane totals as even as capacity allows."""
    per_lane = [chunks // lanes + (1 if i < chunks % lanes else 0) for i in range(lanes)]
    per_lane = [c for c in per_lane if c]
    totals = [0] * len(per_lane)
    left = n
    # Water-filling: the lanes with the least room are filled first, the rest share what is left.
    for rank, i in enumerate(sorted(range(len(per_lane)), key=lambda j: per_lane[j])):
        share = math.ceil(left / (len(per_lane) - rank))
        totals[i] = min(per_lane[i] * size, share)
        left -= totals[i]
    return [[t // c + (1 if k < t % c else 0) for k in range(c)] for t, c in zip(totals, per_lane, strict=True)]


def plan_calls(items: Sequence[dict], mailbox_of: Callable[[str], str | None], per_mailbox: int = 4,
               size: int = 20) -> list[list[Call]]:
    """Lanes of calls: lanes run at once, the calls of one lane one after another."""
    groups: dict[str | None, list[dict]] = {}
    for item in items:
        groups.setdefault(mailbox_of(item["url"]), []).append(item)
    lanes: list[list[Call]] = []
    small: list[Call] = []  # one parallel call's worth for a mailbox: packed with other mailboxes' below
    for mailbox, group in groups.items():
        n = len(group)
        if mailbox is None:  # not an Outlook call: no per-mailbox limit
            small.extend(_parallel(group[i : i + size], None) for i in range(0, n, size))
        elif n <= per_mailbox:
            small.append(_parallel(group, mailbox))
        elif n <= per_mailbox * per_mailbox:  # parallel calls of 4, one after another: as fast, fewer requests
            lanes.append([_parallel(group[i : i + per_mailbox], mailbox) for i in range(0, n, per_mailbox)])
        else:
            lanes.extend(_serial_lanes(group, mailbox, per_mailbox, size))
    lanes.extend([call] for call in _packed(small, size))
    return lanes


def _parallel(group: Sequence[dict], mailbox: str | None) -> Call:
    return Call("parallel", tuple(group), (mailbox,) * len(group))


def _serial_lanes(group: list[dict], mailbox: str, per_mailbox: int, size: int) -> list[list[Call]]:
    n = len(group)
    lane_count = min(per_mailbox, n)
    chunks = max(math.ceil(n / size), lane_count)
    lanes, position = [], 0
    for sizes in _balanced(n, lane_count, chunks, size):
        lane = []
        for count in sizes:
            part = group[position : position + count]
            position += count
            lane.append(Call("serial", tuple(part), (mailbox,) * count) if count > 1 else _parallel(part, mailbox))
        lanes.append(lane)
    return lanes


def _packed(calls: list[Call], size: int) -> list[Call]:
    """Small parallel calls of different mailboxes share one call, up to `size` sub-requests."""
    out: list[Call] = []
    for call in calls:
        if out and len(out[-1].items) + len(call.items) <= size:
            last = out.pop()
            call = Call("parallel", last.items + call.items, last.mailboxes + call.mailboxes)
        out.append(call)
    return out


def call_body(call: Call, prepare: Callable[[dict], dict[str, Any]]) -> list[dict[str, Any]]:
    """The `requests` array of one call: each sub-request prepared, chained when serial."""
    subs = [prepare(item) for item in call.items]
    if call.shape == "serial":
        for before, sub in zip(subs, subs[1:], strict=False):
            sub["dependsOn"] = [before["id"]]
    return subs
