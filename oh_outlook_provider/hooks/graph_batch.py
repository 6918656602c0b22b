"""`$batch` for Office365Hook: Graph's JSON batching, run so that Graph accepts every call.

Up to 20 sub-requests a call (BATCH_LIMIT); `hooks/batching.plan_calls` cuts them into calls and
lanes that keep at most `max_per_mailbox` requests in flight per mailbox, however Graph runs a
batch; throttled, failed and dependency-failed sub-requests are sent again after Retry-After.
Source: learn.microsoft.com/graph/json-batching, learn.microsoft.com/graph/throttling
(docs/sandbox-fidelity.md rows B1-B5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.graph.errors import translate_graph_error
from oh_outlook_provider.hooks.batching import Call, call_body, plan_calls
from oh_outlook_provider.hooks.http import decoded
from oh_outlook_provider.hooks.retry import retry_after_seconds

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

        `plan_calls` cuts them into calls that Graph accepts and that keep at most
        `max_per_mailbox` requests in flight per mailbox under either way Graph runs a batch
        (see hooks/batching.py). Throttled, server-failed and dependency-failed (424)
        sub-requests are sent again, and only those, after the largest Retry-After; a 401
        (the token expired during the batch) gets a fresh token first. Re-sending a POST is
        safe because every create we send carries a transactionId.
        """
        pending: dict[str, dict] = {}
        folded: set[str] = set()
        for item in requests_:
            item_id = str(item["id"])
            if item_id.casefold() in folded:
                raise ValueError(f"duplicate batch id {item_id!r} (Graph compares ids case-insensitively)")
            folded.add(item_id.casefold())
            pending[item_id] = item
        results: dict[str, BatchResponse] = {}
        state = self.retry_policy.start()
        refreshed = False
        while pending:
            retry: dict[str, dict] = {}
            waits: list[float] = []
            expired = False
            refreshes = self._refreshes
            for response in self._run_calls(list(pending.values())):
                results[response.id] = response
                if response.status == 401 and not refreshed:
                    expired = True
                elif response.status in self.retry_policy.batch_statuses:
                    if response.status != 424:
                        self.stats.add(throttled=1)
                        waits.append(retry_after_seconds(response.headers) or 0.0)
                else:
                    continue
                retry[response.id] = pending[response.id]
            if not retry:
                break
            pending = retry
            if expired:
                refreshed = True
                if self._refreshes == refreshes:  # else another call of this round already got a new token
                    self.get_token(force_refresh=True)
            if waits:
                longest = max(waits)
                if not state.wait(longest if longest > 0 else None):
                    break  # the failed responses stay in results as final answers
            elif not state.again():
                break
        return results

    def _run_calls(self, items: list[dict]) -> list[BatchResponse]:
        """One round: the planned calls, lanes at once, each lane's calls one after another."""
        lanes = plan_calls(items, mailbox_of, self.limiter.limit, BATCH_LIMIT)

        def run_lane(lane: list[Call]) -> list[BatchResponse]:
            return [response for call in lane for response in self._batch_call(call)]

        if len(lanes) == 1:
            return run_lane(lanes[0])
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="batch-lane") as pool:
            return [response for lane in pool.map(run_lane, lanes) for response in lane]

    def _sub_request(self, item: dict) -> dict:
        """A sub-request with the headers it needs itself: Graph does not apply the envelope's."""
        sub: dict[str, Any] = {"id": str(item["id"]), "method": item["method"].upper(), "url": item["url"]}
        headers = dict(item.get("headers") or {})
        if item.get("body") is not None:
            sub["body"] = item["body"]
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
