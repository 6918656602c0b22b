"""Per-mailbox concurrency limit shared by every thread that uses one hook.

Outlook allows 4 concurrent requests per app and mailbox; a fifth is answered with 429
MailboxConcurrency. A `$batch` holds as many slots as it runs sub-requests in parallel, and
all slots of one call are taken atomically so two batches can never deadlock each other.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class MailboxLimiter:
    def __init__(self, limit: int = 4):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._in_flight: Counter[str] = Counter()
        self._cond = threading.Condition()
        self.peak: Counter[str] = Counter()

    def _fits(self, wanted: Mapping[str, int]) -> bool:
        return all(self._in_flight[m] + n <= self.limit for m, n in wanted.items())

    @contextmanager
    def hold(self, wanted: Mapping[str, int]) -> Iterator[None]:
        wanted = {m: min(n, self.limit) for m, n in wanted.items() if n > 0}
        if not wanted:
            yield
            return
        with self._cond:
            self._cond.wait_for(lambda: self._fits(wanted))
            for mailbox, n in wanted.items():
                self._in_flight[mailbox] += n
                self.peak[mailbox] = max(self.peak[mailbox], self._in_flight[mailbox])
        try:
            yield
        finally:
            with self._cond:
                for mailbox, n in wanted.items():
                    self._in_flight[mailbox] -= n
                self._cond.notify_all()
