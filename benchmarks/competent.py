"""The competent baseline: what an experienced user writes with requests (or Microsoft's SDK).

One request per created/updated/deleted event, but concurrent as Graph allows: every mailbox at
once, 4 requests in flight per mailbox, Retry-After honoured (the hook's retry policy and
limiter), reads in pages of 1000. No `$batch`. Same desired state as ours, so only the
strategy differs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oh_outlook_provider.sync.desired import desired_state
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.plan import ExistingEvent, plan_mailbox
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.tags import SOURCE_PROP, expand_tags, source_id, tag_filter

PER_MAILBOX = 4


def competent_sync(graph: Any, openhandwerk: Any, mapping: dict, window: Window, salt: str) -> dict[str, int]:
    source = source_id(openhandwerk.settings.id_kn)
    records = list(openhandwerk.iter_appointments(window.start, window.end))
    emp_to_user = {e: m["user_id"] for e, m in mapping.items()}
    desired = desired_state(records, emp_to_user, window, source, RenderOptions())
    in_window = (f"{tag_filter(SOURCE_PROP, source)} and start/dateTime ge '{window.start:%Y-%m-%dT%H:%M:%S}' "
                 f"and start/dateTime lt '{window.end:%Y-%m-%dT%H:%M:%S}'")
    headers = {"Prefer": 'outlook.timezone="W. Europe Standard Time", IdType="ImmutableId"'}

    def one_mailbox(mailbox: str) -> dict[str, int]:
        events = graph.paginate(f"/users/{mailbox}/events", params={"$filter": in_window, "$expand": expand_tags(),
                                                                   "$top": "1000"}, headers=headers)
        plan = plan_mailbox(desired.by_mailbox.get(mailbox, []), [ExistingEvent.from_graph(e) for e in events],
                            source=source)
        calls = ([("post", f"/users/{mailbox}/events", c.desired.create_body(salt)) for c in plan.creates]
                 + [("patch", f"/users/{mailbox}/events/{u.event_id}", u.patch_body()) for u in plan.updates]
                 + [("delete", f"/users/{mailbox}/events/{d.event_id}", None) for d in plan.deletes])
        with ThreadPoolExecutor(max_workers=PER_MAILBOX) as pool:
            list(pool.map(lambda c: getattr(graph, c[0])(c[1], *(() if c[2] is None else (c[2],))), calls))
        return plan.counts()

    mailboxes = sorted(set(emp_to_user.values()))
    totals: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(mailboxes))) as pool:
        for counts in pool.map(one_mailbox, mailboxes):
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
    return totals
