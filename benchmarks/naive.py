"""The naive baseline: what a Zapier-style flow or a simple script does.

Sequential, one request per created/updated/deleted event, no batching, and a full re-read of
each calendar window in pages of 50 on every run. It uses the same hook (so throttling is
handled) and the same desired state, so only the strategy differs.
"""

from __future__ import annotations

from typing import Any

from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.desired import desired_state
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.tags import KEY_PROP, SOURCE_PROP, expand_tags, source_id, tag_filter

COMPARED = ("subject", "start", "end")


def naive_sync(graph: Any, openhandwerk: Any, mapping: dict, window: Window, salt: str) -> dict[str, int]:
    source = source_id(openhandwerk.settings.id_kn)
    records = list(openhandwerk.iter_appointments(window.start, window.end))
    emp_to_user = {e: m["user_id"] for e, m in mapping.items()}
    desired = desired_state(records, emp_to_user, window, source, RenderOptions())
    counts = {"create": 0, "update": 0, "delete": 0, "unchanged": 0}
    in_window = (f"{tag_filter(SOURCE_PROP, source)} and start/dateTime ge '{window.start:%Y-%m-%dT%H:%M:%S}' "
                 f"and start/dateTime lt '{window.end:%Y-%m-%dT%H:%M:%S}'")
    for mailbox in sorted(set(emp_to_user.values())):
        existing = {}
        for event in graph.paginate(f"/users/{mailbox}/events", params={"$filter": in_window, "$expand": expand_tags(),
                                                                       "$top": "50"}):
            props = {p["id"]: p["value"] for p in event.get("singleValueExtendedProperties", [])}
            existing[props.get(KEY_PROP)] = event
        for want in desired.by_mailbox.get(mailbox, []):
            have = existing.pop(str(want.key), None)
            if have is None:
                graph.post(f"/users/{mailbox}/events", want.create_body(salt))
                counts["create"] += 1
                continue
            same = all(fingerprint.field_hash(n, have.get(n), want.fields["isAllDay"]) == want.hashes[n] for n in COMPARED)
            if same:
                counts["unchanged"] += 1
            else:
                graph.patch(f"/users/{mailbox}/events/{have['id']}", {**want.fields,
                                                                      "singleValueExtendedProperties": want.tags()})
                counts["update"] += 1
        for event in existing.values():
            graph.delete(f"/users/{mailbox}/events/{event['id']}")
            counts["delete"] += 1
    return counts
