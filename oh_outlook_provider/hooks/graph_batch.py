"""`$batch` for Office365Hook: Graph's JSON batching, run so that Graph accepts every call.

Up to 20 sub-requests a call (BATCH_LIMIT); `hooks/batching.plan_calls` cuts them into calls and
lanes balanced by depth that keep at most `max_per_mailbox` requests in flight per mailbox, however
Graph runs a batch; the lanes run in threads of their own and share the work (`LaneQueue`), so
throttled, failed and dependency-failed sub-requests, sent again after their Retry-After, are taken
by whichever lanes are free while the others keep writing.
Source: learn.microsoft.com/graph/json-batching, learn.microsoft.com/graph/throttling
(docs/sandbox-fidelity.md rows B1-B5).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.graph.errors import translate_graph_error
from oh_outlook_provider.hooks.batching import Call, LaneQueue, call_body, phases, plan_calls, retry_calls
from oh_outlook_provider.hooks.http import decoded
from oh_outlook_provider.hooks.retry import RetryState, retry_after_seconds
from oh_outlook_provider.i18n import carried

BATCH_LIMIT = 20
# Sent on every request and every sub-request (a batch's envelope headers do not reach its
# sub-requests): updates and deletes address events by id, and only immutable ids survive an
# event moving between folders (a changed target calendar, a user dragging it), so an id read
# in one run still names the same event in the next (Graph's "immutable identifiers" page).
IMMUTABLE_ID = 'IdType="ImmutableId"'
_MAILBOX_RE = re.compile(r"^/users/([^/?]+)", re.IGNORECASE)


def mailbox_of(path: str) -> str | None:
    """The mailbox a relative Graph path addresses (`/users/{id}/...`), casefolded."""
    match = _MAILBOX_RE.match(path)
    if not match or path.split("?")[0].count("/") < 3:
        return None
    return unquote(match.group(1)).casefold()


@dataclass(frozen=True)
class BatchResponse:
    """One sub-response of a `$batch` call."""

    id: str
    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class GraphBatchMixin:
    """`batch` and `batch_error` for a hook that has `_send`, `url`, `get_token`, `stats`,
    `retry_policy`, `limiter` and `_refreshes` (Office365Hook)."""

    def batch(self, requests_: Iterable[dict]) -> dict[str, BatchResponse]:
        """Run sub-requests through `$batch` and return each response by id.

        `plan_calls` cuts them into calls that Graph accepts and lanes balanced by depth that
        keep at most `max_per_mailbox` requests in flight per mailbox under either way Graph runs
        a batch (see hooks/batching.py); the lanes run at once and share the work (`LaneQueue`).
        A large mailbox's first few go first in parallel calls when that saves calls (`phases`).
        Throttled, server-failed and dependency-failed (424) sub-requests of a call are sent again,
        and only those: after the call's largest Retry-After (the other lanes keep working
        meanwhile), cut into chains the idle lanes take. A 401 (the token expired during the batch)
        gets a fresh token first, once per batch. A sub-request is given up after the retry
        policy's attempts; its last answer is then final. Re-sending a POST is safe because every
        create we send carries a transactionId.

        A sub-request's `body` may be a function of no arguments that returns it: it is called when
        the sub-request's call goes out (again for a retry), so the bodies of a large batch are built
        while Graph works on the first calls, not all before the first one leaves.
        """
        pending: dict[str, dict] = {}
        folded: set[str] = set()
        for item in requests_:
            item_id = str(item["id"])
            if item_id.casefold() in folded:
                raise ValueError(f"duplicate batch id {item_id!r} (Graph compares ids case-insensitively)")
            folded.add(item_id.casefold())
            pending[item_id] = item
        if not pending:
            return {}
        run = _BatchRun(self, pending)
        queues = [LaneQueue(plan_calls(phase, mailbox_of, self.limiter.limit, BATCH_LIMIT))
                  for phase in phases(list(pending.values()), mailbox_of, self.limiter.limit, BATCH_LIMIT)]
        for queue, later in zip(queues, [*queues[1:], None], strict=True):
            if len(queue) == 1:
                run.lane(queue, 0, later)
                continue
            with ThreadPoolExecutor(max_workers=len(queue), thread_name_prefix="batch-lane", **carried()) as pool:
                for future in [pool.submit(run.lane, queue, i, later) for i in range(len(queue))]:
                    future.result()
        return run.results

    def _sub_request(self, item: dict) -> dict:
        """A sub-request with the headers it needs itself: Graph does not apply the envelope's."""
        sub: dict[str, Any] = {"id": str(item["id"]), "method": item["method"].upper(), "url": item["url"]}
        headers = dict(item.get("headers") or {})
        body = item.get("body")
        if callable(body):  # built when its call goes out (see `batch`)
            body = body()
        if body is not None:
            sub["body"] = body
            headers.setdefault("Content-Type", "application/json")
        prefer = next((k for k in headers if k.lower() == "prefer"), None)
        if prefer is None:
            headers["Prefer"] = IMMUTABLE_ID
        elif "idtype" not in headers[prefer].lower():
            headers[prefer] = f"{headers[prefer]}, {IMMUTABLE_ID}"
        sub["headers"] = headers
        return sub

    def _batch_call(self, call: Call) -> list[BatchResponse]:
        body_requests = call_body(call, self._sub_request)
        self.stats.add(batch_calls=1, sub_requests=len(body_requests))
        response = self._send(
            "POST",
            self.url("/$batch"),
            body={"requests": body_requests},
            idempotent=all(self.retry_policy.is_idempotent(s["method"], s.get("body")) for s in body_requests),
            slots=call.slots(),
        )
        payload = decoded(response)
        if response.status_code >= 400:
            raise translate_graph_error(response.status_code, payload, "POST", "/$batch", None)
        out = []
        seen = set()
        for sub in (payload or {}).get("responses", []):
            seen.add(str(sub.get("id")))
            out.append(
                BatchResponse(
                    id=str(sub.get("id")),
                    status=int(sub.get("status", 500)),
                    body=sub.get("body"),
                    headers=dict(sub.get("headers") or {}),
                )
            )
        for sub in body_requests:  # a response Graph left out is treated as a transient failure
            if sub["id"] not in seen:
                out.append(BatchResponse(id=sub["id"], status=503, body=None, headers={}))
        return out

    def batch_error(self, item: dict, response: BatchResponse) -> GraphError:
        """Translate a failed sub-response the same way as a direct call."""
        return translate_graph_error(
            response.status, response.body if isinstance(response.body, dict) else None,
            item["method"].upper(), item["url"], mailbox_of(item["url"]),
        )


class _BatchRun:
    """One `batch()` call's shared state: the answers so far, each sub-request's attempts, the token refresh."""

    def __init__(self, hook: Any, items: dict[str, dict]):
        self.hook = hook
        self.items = items
        self.results: dict[str, BatchResponse] = {}
        self.attempts: dict[str, int] = dict.fromkeys(items, 1)
        self._lock = threading.Lock()
        self._refreshed = False

    def lane(self, queue: LaneQueue, lane: int, later: LaneQueue | None = None) -> None:
        """One lane's thread: take a call, send it, hand back what must be sent again; stop all on an error.

        With a `later` phase, what this phase must send again goes to that phase's queue once its wait is over
        (a thread of its own waits), so a throttled head never holds its mailbox's lanes back."""
        try:
            while (call := queue.take(lane)) is not None:
                try:
                    token = self.hook._refreshes  # which token the call goes out with
                    again, seconds = self._answered(self.hook._batch_call(call), token)
                    if again and later is None and seconds:
                        self.hook.retry_policy.sleep(seconds)
                finally:
                    queue.done()
                if again and later is not None:
                    later.hold()  # its lanes wait for these calls
                    threading.Thread(target=self._hand_over, args=(later, self._calls_again(again, len(later)),
                                                                   seconds), daemon=True).start()
                elif again:
                    queue.put(self._calls_again(again, len(queue)))
        except BaseException:
            queue.stop()
            raise

    def _hand_over(self, later: LaneQueue, calls: list[Call], seconds: float) -> None:
        try:
            if seconds:
                self.hook.retry_policy.sleep(seconds)
            later.put(calls)
        finally:
            later.release()

    def _calls_again(self, items: list[dict], lanes: int) -> list[Call]:
        """Calls for sub-requests sent again: one slot each beside other lanes; alone, as planned afresh."""
        limit = self.hook.limiter.limit
        if lanes > 1:
            return retry_calls(items, mailbox_of, limit, BATCH_LIMIT)
        return [call for lane in plan_calls(items, mailbox_of, limit, BATCH_LIMIT) for call in lane]

    def _answered(self, responses: list[BatchResponse], token: int) -> tuple[list[dict], float]:
        """Record the answers of one call; the sub-requests to send again and the seconds to wait first.

        A 401 is sent again with a fresh token: once per batch, or without refreshing when another
        lane already renewed the token this call went out with."""
        policy = self.hook.retry_policy
        again, waits = [], []
        with self._lock:
            for response in responses:
                self.results[response.id] = response
                if response.status == 401:
                    if self.hook._refreshes == token:
                        if self._refreshed:
                            continue  # a fresh token was refused too: final
                        self._refreshed = True
                        self.hook.get_token(force_refresh=True)
                elif response.status in policy.batch_statuses:
                    if response.status != 424:
                        self.hook.stats.add(throttled=1)
                        waits.append(retry_after_seconds(response.headers) or 0.0)
                else:
                    continue
                again.append(response.id)
        if not again:
            return [], 0.0
        state = RetryState(policy, attempts=max(self.attempts[i] for i in again))
        seconds = state.next_wait(max(waits) if max(waits) > 0 else None) if waits else (0.0 if state.again() else None)
        if seconds is None:
            return [], 0.0  # the failed responses stay in results as final answers
        with self._lock:
            for item_id in again:
                self.attempts[item_id] = state.attempts
        return [self.items[item_id] for item_id in again], seconds
