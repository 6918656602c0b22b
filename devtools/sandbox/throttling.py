"""Graph's throttling as the emulator applies it: a mailbox's slots (at most 4 requests in flight) and request
budget (429 with Retry-After), the faults drawn per request, and each request's latency waited out in its slot.

Rows R1, L1 and F1-F2 of docs/sandbox-fidelity.md; the limits, faults and latency are the state's settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable

from devtools.sandbox.answers import GraphFault, Result, error
from devtools.sandbox.state import SandboxState


def retry_after(seconds: float) -> str:
    """Retry-After as Graph sends it: whole seconds, at least 1 (fidelity row R1)."""
    return str(max(1, math.ceil(seconds)))


def take_slot(state: SandboxState, mailbox: str, kind: str) -> tuple[str | None, float]:
    """Count the request, refuse past 4 in flight or the budget (GraphFault 429), inject faults; a slot taken
    returns (the fault drawn for after the write, if any; the request's latency in seconds). The caller waits
    out the latency, runs the request and gives the slot back (`give_slot`), as `mailbox_call` does."""
    limits = state.limits
    with state.lock:
        c = state.counters
        c.requests[(mailbox, kind)] += 1
        n = c.requests[(mailbox, "read")] + c.requests[(mailbox, "write")]  # the mailbox's request number
        now = time.monotonic()
        window_start, count = state.budget.get(mailbox, (now, 0))
        if now - window_start > limits.budget_window:
            window_start, count = now, 0
        if c.in_flight[mailbox] >= limits.mailbox_concurrency:
            c.throttled[mailbox] += 1
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                             {"Retry-After": retry_after(limits.concurrency_retry_after)})
        if count >= limits.budget_requests:
            c.throttled[mailbox] += 1
            wait = limits.budget_window - (now - window_start)
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxRequests limit.",
                             {"Retry-After": retry_after(wait)})
        state.budget[mailbox] = (window_start, count + 1)
        fault = _draw_fault(state, mailbox, n)
        if fault in ("429", "503", "504"):
            c.faults[fault] += 1
            if fault == "429":
                c.throttled[mailbox] += 1
            raise GraphFault(int(fault), {"429": "TooManyRequests", "503": "ServiceUnavailable",
                                          "504": "GatewayTimeout"}[fault], "Injected fault.",
                             {"Retry-After": retry_after(state.faults.retry_after)})
        c.in_flight[mailbox] += 1
        c.peak_in_flight[mailbox] = max(c.peak_in_flight[mailbox], c.in_flight[mailbox])
    return fault, _latency(state, mailbox, n)


def give_slot(state: SandboxState, mailbox: str) -> None:
    with state.lock:
        state.counters.in_flight[mailbox] -= 1


# A latency ends on the nearest tick of a tenth of the configured latency. At 400 ms, 80 requests in flight end
# about every 5 ms, each a wake of an idle CPU whose cold caches cost more user time than the request's own work:
# the emulator's CPU for one initial sync (20 x 150) grew from 1.3 s at 30 ms to 2.3 s at 400 ms with the same
# work, and 40 ms ticks took it to 1.5-1.7 s (issue 25). Rounding to the nearest tick keeps the mean latency.
TICK_SHARE = 0.1


def on_tick(now: float, delay: float, tick: float) -> float:
    """When a latency of `delay` seconds that starts at `now` (the loop's clock) ends: the tick (a multiple of
    `tick` seconds) nearest to `now + delay`; `now + delay` itself without a tick. Never before `now`. Over starts
    spread evenly across a tick, the mean is `now + delay` (each end at most `tick / 2` away from it)."""
    if tick <= 0:
        return now + delay
    return max(now, round((now + delay) / tick) * tick)


async def mailbox_call(state: SandboxState, mailbox: str, kind: str, call: Callable[[], Result]) -> Result:
    """`call()` in one of the mailbox's slots (`take_slot`), after the request's latency, the slot held until
    it returns. The latency is waited out on the event loop: a thread asleep per sub-request, woken to take the
    GIL from the others, was a quarter to a half of the emulator's CPU at 2 ms (issue 25). Even without latency
    the call waits one turn of the loop, so requests sent at once are in flight at once, as over a network.
    Latencies end on the loop's ticks (`on_tick`), so requests ending close together run in one wake of the loop."""
    fault, delay = take_slot(state, mailbox, kind)
    try:
        if delay:
            loop = asyncio.get_running_loop()
            now = loop.time()
            delay = on_tick(now, delay, state.latency * TICK_SHARE) - now
        await asyncio.sleep(delay)
        result = call()
    finally:
        give_slot(state, mailbox)
    if fault == "lost":  # the write happened, the answer arrives too late for the client (row F1)
        state.counters.faults["lost"] += 1
        await asyncio.sleep(state.faults.lost_delay)
    elif fault == "504_after":  # the write happened, the gateway gave up waiting (row F2)
        state.counters.faults["504_after"] += 1
        return error(504, "GatewayTimeout", "The gateway did not receive a timely response.")
    return result


def _unit(state: SandboxState, *parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in (state.seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _draw_fault(state: SandboxState, mailbox: str, n: int) -> str | None:
    f = state.faults
    if not (f.p429 or f.p503 or f.p504 or f.p_lost or f.p504_after):
        return None  # no draw can fall below a probability of 0: the hash is not needed
    roll = _unit(state, "fault", mailbox, n)
    for name, p in (("429", f.p429), ("503", f.p503), ("504", f.p504), ("lost", f.p_lost),
                    ("504_after", f.p504_after)):
        if roll < p:
            return name
        roll -= p
    return None


def _latency(state: SandboxState, mailbox: str, n: int) -> float:
    """Seconds the mailbox's request number `n` takes: the latency plus its share of the jitter."""
    if state.jitter:
        return state.latency + state.jitter * _unit(state, "lat", mailbox, n)
    return state.latency
