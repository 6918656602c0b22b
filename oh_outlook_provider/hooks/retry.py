"""Retries in one place, as urllib3's `Retry`: which statuses, which methods, how long to wait.

Both hooks hold one `RetryPolicy`; a call asks it, through a `RetryState`, whether one more
attempt is allowed and how long to sleep first. A server's Retry-After wins over our own
back-off (capped, with a little jitter added so that many clients do not return at once).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Graph: throttled, unavailable, gateway timeout (learn.microsoft.com/graph/throttling).
GRAPH_STATUSES = frozenset({429, 503, 504})
# Sub-requests of a $batch worth sending again: also other server errors and those whose
# dependency failed in a serial batch (424); 401 is handled apart (fresh token first).
BATCH_STATUSES = GRAPH_STATUSES | {500, 502, 424}
SAFE_METHODS = frozenset({"GET", "HEAD", "DELETE", "PATCH", "PUT"})  # our PATCHes send absolute values


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header: a number (Graph sends whole seconds; fractions are read too)
    or an HTTP date."""
    if not headers:
        return None
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = str(val).strip()
            break
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RetryPolicy:
    """Bounded attempts and a total wait budget; jittered exponential back-off without Retry-After.

    :param statuses: HTTP statuses of a direct call that are retried.
    :param batch_statuses: statuses of a `$batch` sub-response that are sent again.
    :param safe_methods: methods retried after a network error; a POST only with a transactionId.
    :param retry_after_max: cap on a server's Retry-After.
    :param retry_after_jitter: up to this share is added at random above a server's Retry-After.
    """

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    wait_budget: float = 600.0
    retry_after_max: float = 120.0
    retry_after_jitter: float = 0.1
    statuses: frozenset[int] = GRAPH_STATUSES
    batch_statuses: frozenset[int] = BATCH_STATUSES
    safe_methods: frozenset[str] = SAFE_METHODS
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def start(self) -> RetryState:
        return RetryState(self)

    def is_idempotent(self, method: str, body: Any = None) -> bool:
        """Safe to send twice: a safe method, or a create carrying a transactionId (Graph drops the repeat)."""
        method = method.upper()
        return method in self.safe_methods or (
            method == "POST" and isinstance(body, dict) and bool(body.get("transactionId")))

    def server_wait(self, seconds: float) -> float:
        """A server's Retry-After, capped, never shortened, with a little jitter on top."""
        capped = min(seconds, self.retry_after_max)
        return capped + self.rng.uniform(0, capped * self.retry_after_jitter)


@dataclass
class RetryState:
    """Per-call counter: asks the policy whether one more attempt is allowed, and sleeps."""

    policy: RetryPolicy
    attempts: int = 1
    waited: float = 0.0

    def delay(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return self.policy.server_wait(retry_after)
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (self.attempts - 1))
        return ceiling / 2 + self.policy.rng.uniform(0, ceiling / 2)

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next attempt; False when attempts or the wait budget are used up."""
        seconds = self.next_wait(retry_after)
        if seconds is None:
            return False
        self.policy.sleep(seconds)
        return True

    def next_wait(self, retry_after: float | None = None) -> float | None:
        """`wait` without the sleep: the seconds to sleep before the next attempt, counted as waited; None when
        attempts or the wait budget are used up. The caller sleeps (`policy.sleep`)."""
        if self.attempts >= self.policy.max_attempts:
            return None
        seconds = self.delay(retry_after)
        if self.waited + seconds > self.policy.wait_budget:
            return None
        self.waited += seconds
        self.attempts += 1
        return seconds

    def again(self) -> bool:
        """One more attempt without sleeping (a fresh token, a dependency that failed); False when used up."""
        if self.attempts >= self.policy.max_attempts:
            return False
        self.attempts += 1
        return True
