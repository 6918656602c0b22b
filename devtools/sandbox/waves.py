"""A wave of `$batch` sub-requests: at most `width` at once, on the server's event loop (fidelity row B5).

`await run_wave(run, keys, width)` behaves as `ThreadPoolExecutor(width).map(run, keys)` did for each wave: the
sub-requests start in order, at most `width` run at once, the call returns when all are done and raises the
first one's exception (in order) after that. The sub-requests were once run on threads: a pool per batch cost
2.5 ms of CPU per `$batch`, and a thread asleep per sub-request's latency, woken to take the GIL back, was a
quarter to a half of the emulator's CPU in an initial sync (issue 25). On the loop a latency is a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


async def run_wave(run: Callable[[str], Awaitable[None]], keys: Sequence[str], width: int) -> None:
    """`await run(key)` for every key, at most `width` at once, started in the order given; returns when all
    are done, then raises the exception of the first key (in order) whose run raised one.

    `width` lanes take the next key as each finishes its last: a lane that finishes early takes more."""
    keys = list(keys)
    taken = iter(range(len(keys)))  # shared by the lanes, which run on one thread: each key is taken once, in order
    errors: dict[int, Exception] = {}

    async def lane() -> None:
        for index in taken:
            try:
                await run(keys[index])
            except Exception as exc:  # noqa: BLE001 - handed to the caller, as Executor.map does
                errors[index] = exc

    await asyncio.gather(*(lane() for _ in range(min(width, len(keys)))))
    if errors:
        raise errors[min(errors)]
