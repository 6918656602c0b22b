"""How sub-requests are cut into `$batch` calls and lanes, and how lanes share the work: pure (no I/O).

Graph accepts three dependency shapes in one batch (parallel, serial, same: json-batching,
"known issues"), and how it runs a parallel batch against Outlook is documented two ways:
at most 4 sub-requests of a batch at a time (throttling page, current revision), or all at
once with 429 MailboxConcurrency past 4 per mailbox (older revisions, field reports). Both
are emulated by the sandbox (docs/sandbox-fidelity.md, rows B2 and B5).

The plan that is right and fast under both (`plan_calls`):
- a mailbox with at most 16 sub-requests gets *parallel* calls of at most `per_mailbox` (4),
  one after another: a round trip each, never more than 4 in flight for that mailbox either way;
- a mailbox with more gets *serial* calls (each sub-request depends on the one before, so
  exactly one runs at a time whatever Graph's execution), at most `size` (20) each, over
  `per_mailbox` lanes that run at once. The lanes are balanced by *depth* (sub-requests one
  after another): none deeper than ceil(n/4), the bound Outlook's concurrency limit sets, and
  with the fewest calls that depth allows (4 x ceil(ceil(n/4)/20) at most: 12 for 170 writes
  where capacity alone would give 9 at a depth of 50);
- where it saves calls, a large mailbox's first few (`head_size`, at most 16) go before its lanes
  as parallel calls of 4 (`phases`): 170 writes in 3 + 8 = 11 calls, still 43 deep.
Mailboxes with at most 4 sub-requests share parallel calls of up to 20 (still at most 4 per
mailbox). Parallel batches of 4 would need 5x the HTTP requests; parallel batches of 20 to one
mailbox break under "all at once" (16 of 20 answered 429).

`LaneQueue` runs the plan work-conserving: a lane that runs dry takes the last waiting call of
the deepest lane, and what a failure sends again (a throttled sub-request and the rest of its
chain, answered 424) is cut by `retry_calls` into serial chains of one slot each and handed to
the shallowest lanes at once, so every lane of a mailbox keeps working until the work is done.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
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

    @property
    def depth(self) -> int:
        """Sub-requests of this call that run one after another (a parallel call of at most 4: one)."""
        return len(self.items) if self.shape == "serial" else 1


def lane_depth(lane: Sequence[Call]) -> int:
    """Round trips of Graph's time a lane takes: the depths of its calls, one after another."""
    return sum(call.depth for call in lane)


def _even(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def _depth_balanced(n: int, lanes: int, size: int) -> list[list[int]]:
    """Chunk sizes per lane: no lane deeper than ceil(n/lanes), with the fewest chunks of at most `size`."""
    depth = math.ceil(n / lanes)
    full = math.ceil(depth / size)
    caps, counts = [depth] * lanes, [full] * lanes
    for i in range(lanes):  # one chunk fewer in a lane while the others still hold everything
        smaller = size * (full - 1)
        if full > 1 and sum(caps) - caps[i] + smaller >= n:
            caps[i], counts[i] = smaller, full - 1
    totals, left = [0] * lanes, n
    for rank, i in enumerate(sorted(range(lanes), key=lambda j: caps[j])):  # water-filling, tightest lane first
        totals[i] = min(caps[i], math.ceil(left / (lanes - rank)))
        left -= totals[i]
    return [_even(t, c) for t, c in zip(totals, counts, strict=True) if t]


def _lane_calls(n: int, per_mailbox: int, size: int) -> int:
    """Calls `plan_calls` makes for one mailbox of `n` (> per_mailbox ** 2) sub-requests."""
    return sum(len(sizes) for sizes in _depth_balanced(n, min(per_mailbox, n), size))


def head_size(n: int, per_mailbox: int = 4, size: int = 20) -> int:
    """How many of a mailbox's `n` sub-requests go first, in parallel calls of `per_mailbox` one after another,
    so the rest fills serial lanes with fewer calls, none deeper than ceil(n/4) in all (0: none go first).

    170 writes: 12 first (3 parallel calls), the other 158 in lanes of 40 (2 calls each): 11 calls at a depth
    of 3 + 40 = 43, where lanes alone need 12 (3 calls each, 43 deep). The fewest calls that depth allows
    with a mailbox's calls its own (`benchmarks/floor.py` finds no fewer); ties go to fewer calls first, whose
    parallel calls wait for the slowest of their sub-requests."""
    if n <= per_mailbox * per_mailbox:
        return 0
    best, best_calls = 0, _lane_calls(n, per_mailbox, size)
    # k parallel calls of per_mailbox first leave lanes ceil((n - 4k)/4) = ceil(n/4) - k deep: the depth stays.
    for first_calls in range(1, per_mailbox + 1):  # at most 16 first: parallel calls of 4 (see plan_calls)
        first = per_mailbox * first_calls
        rest = n - first
        if rest <= per_mailbox * per_mailbox:
            break
        calls = first_calls + _lane_calls(rest, per_mailbox, size)
        if calls < best_calls:
            best, best_calls = first, calls
    return best


def phases(items: Sequence[dict], mailbox_of: Callable[[str], str | None], per_mailbox: int = 4,
           size: int = 20) -> list[list[dict]]:
    """The items in the order of their phases: every mailbox's `head_size` first (parallel calls), then the
    rest (lanes); one phase when no mailbox has a head. A phase starts when the one before has been answered,
    so a head's parallel calls never run beside that mailbox's lanes (at most 4 in flight)."""
    first: list[dict] = []
    rest: list[dict] = []
    for group in _by_mailbox(items, mailbox_of).values():
        count = head_size(len(group), per_mailbox, size) if mailbox_of(group[0]["url"]) is not None else 0
        first.extend(group[:count])
        rest.extend(group[count:])
    return [first, rest] if first else [rest]


def plan_calls(items: Sequence[dict], mailbox_of: Callable[[str], str | None], per_mailbox: int = 4,
               size: int = 20) -> list[list[Call]]:
    """Lanes of calls: lanes run at once, the calls of one lane one after another."""
    lanes: list[list[Call]] = []
    small: list[Call] = []  # one parallel call's worth for a mailbox: packed with other mailboxes' below
    for mailbox, group in _by_mailbox(items, mailbox_of).items():
        n = len(group)
        if mailbox is None:  # not an Outlook call: no per-mailbox limit
            small.extend(_parallel(group[i : i + size], None) for i in range(0, n, size))
        elif n <= per_mailbox:
            small.append(_parallel(group, mailbox))
        elif n <= per_mailbox * per_mailbox:  # parallel calls of 4, one after another: as deep, fewer requests
            lanes.append([_parallel(group[i : i + per_mailbox], mailbox) for i in range(0, n, per_mailbox)])
        else:
            lanes.extend(_chains(group, mailbox, sizes) for sizes in _depth_balanced(n, min(per_mailbox, n), size))
    lanes.extend([call] for call in _packed(small, size))
    return lanes


def retry_calls(items: Sequence[dict], mailbox_of: Callable[[str], str | None], per_mailbox: int = 4,
                size: int = 20) -> list[Call]:
    """Calls for sub-requests sent again: per mailbox at most `per_mailbox` serial chains of one slot
    each, balanced by depth, so they fit beside the lanes still running for that mailbox; chains of
    one share parallel calls with other mailboxes' (never two of one mailbox in a call)."""
    calls: list[Call] = []
    singles: list[Call] = []
    for mailbox, group in _by_mailbox(items, mailbox_of).items():
        if mailbox is None:
            calls.extend(_parallel(group[i : i + size], None) for i in range(0, len(group), size))
            continue
        for sizes in _depth_balanced(len(group), min(per_mailbox, len(group)), size):
            for call in _chains(group, mailbox, sizes):
                (singles if len(call.items) == 1 else calls).append(call)
    return calls + _packed_apart(singles, size)


def _packed_apart(singles: list[Call], size: int) -> list[Call]:
    """Calls of one sub-request share parallel calls of up to `size`, at most one per mailbox in each."""
    packs: list[list[Call]] = []
    for call in singles:
        home = next((p for p in packs if len(p) < size and call.mailboxes[0] not in {c.mailboxes[0] for c in p}), None)
        if home is None:
            packs.append(home := [])
        home.append(call)
    return [Call("parallel", tuple(c.items[0] for c in p), tuple(c.mailboxes[0] for c in p)) for p in packs]


def _by_mailbox(items: Sequence[dict], mailbox_of: Callable[[str], str | None]) -> dict[str | None, list[dict]]:
    groups: dict[str | None, list[dict]] = {}
    for item in items:
        groups.setdefault(mailbox_of(item["url"]), []).append(item)
    return groups


def _parallel(group: Sequence[dict], mailbox: str | None) -> Call:
    return Call("parallel", tuple(group), (mailbox,) * len(group))


def _chains(group: list[dict], mailbox: str, sizes: list[int]) -> list[Call]:
    """`group`'s first sum(sizes) items cut into calls of these sizes (taken off the front of `group`)."""
    calls = []
    for count in sizes:
        part, group[:count] = group[:count], []
        calls.append(Call("serial", tuple(part), (mailbox,) * count) if count > 1 else _parallel(part, mailbox))
    return calls


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


class LaneQueue:
    """The waiting calls of each lane, shared by the lanes' threads (work-conserving).

    `take(lane)` gives the lane its next call; a lane whose own calls are done takes the last
    waiting call of the deepest lane instead; with nothing waiting it blocks while other calls
    are out (they may hand work back through `put`), and answers None once all is done or
    `stop` was called. Every `take` that returned a call is answered by one `done`.
    """

    def __init__(self, lanes: Sequence[Sequence[Call]]):
        self._lanes = [deque(lane) for lane in lanes]
        self._cond = threading.Condition()
        self._out = 0
        self._stopped = False

    def __len__(self) -> int:
        return len(self._lanes)

    def take(self, lane: int) -> Call | None:
        with self._cond:
            while not self._stopped:
                own = self._lanes[lane]
                if own:
                    self._out += 1
                    return own.popleft()
                deepest = max(self._lanes, key=lane_depth)
                if deepest:
                    self._out += 1
                    return deepest.pop()
                if not self._out:
                    return None
                self._cond.wait()
            return None

    def put(self, calls: Sequence[Call]) -> None:
        """Work handed back (sent again): each call to the lane with the least waiting depth."""
        with self._cond:
            for call in calls:
                min(self._lanes, key=lane_depth).append(call)
            self._cond.notify_all()

    def done(self) -> None:
        with self._cond:
            self._out -= 1
            self._cond.notify_all()

    def hold(self) -> None:
        """Work is on its way (`put` later, then `release`): the lanes wait for it instead of ending."""
        with self._cond:
            self._out += 1

    def release(self) -> None:
        """What `hold` announced has been put (or will not come)."""
        self.done()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
