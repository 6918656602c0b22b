"""Retry and back-off rules in one place, shared by the Graph and openHandwerk hooks."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

RETRYABLE_STATUS = frozenset({429, 503, 504})


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header: a (possibly fractional) number or an HTTP date."""
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
    """Bounded attempts and a total wait budget; jittered exponential back-off without Retry-After."""

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    wait_budget: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def start(self) -> RetryState:
        return RetryState(self)


@dataclass
class RetryState:
    """Per-call counter: asks the policy whether one more attempt is allowed, and sleeps."""

    policy: RetryPolicy
    attempts: int = 1
    waited: float = 0.0

    def delay(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (self.attempts - 1))
        return ceiling / 2 + self.policy.rng.uniform(0, ceiling / 2)

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next attempt; False when attempts or the wait budget are used up."""
        if self.attempts >= self.policy.max_attempts:
            return False
        seconds = self.delay(retry_after)
        if self.waited + seconds > self.policy.wait_budget:
            return False
        self.policy.sleep(seconds)
        self.waited += seconds
        self.attempts += 1
        return True
