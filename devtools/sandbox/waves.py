"""A wave of `$batch` sub-requests: at most `width` at once, on threads every batch shares (fidelity row B5).

`run_wave(run, keys, width)` behaves as `ThreadPoolExecutor(width).map(run, keys)` did for each wave: the
sub-requests start in order, at most `width` run at once, the call returns when all are done and raises
the first one's exception (in order) after that. A pool per batch started and joined up to 20 threads per
`$batch`: 2.5 ms of the emulator's CPU per batch, a tenth of its share in the initial sync (issue 25).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

# Threads are made only when none is idle: as many as sub-requests run at once across all batches.
_POOL = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="batch-sub")


def run_wave(run: Callable[[str], None], keys: Sequence[str], width: int) -> None:
    """`run(key)` for every key, at most `width` at once, started in the order given; blocks until all
    are done, then raises the exception of the first key (in order) whose run raised one.

    `width` lanes take the next key as each finishes its last, the calling thread one of them: a thread
    handed each sub-request (and the caller only waiting) was a wake-up of an idle thread per sub-request
    in the emulator's CPU (issue 25)."""
    keys = list(keys)
    if not keys:
        return
    taken = iter(range(len(keys)))  # next() under `lock`: each key is run once, in order
    lock = threading.Lock()
    errors: dict[int, BaseException] = {}

    def lane() -> None:
        while True:
            with lock:
                index = next(taken, None)
            if index is None:
                return
            try:
                run(keys[index])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, as Executor.map does
                errors[index] = exc

    others = [_POOL.submit(lane) for _ in range(min(width, len(keys)) - 1)]
    lane()
    for other in others:
        other.result()
    if errors:
        raise errors[min(errors)]
