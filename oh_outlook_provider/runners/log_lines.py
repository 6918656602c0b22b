"""Lines for Airflow's task log view, which shows about 100 characters without scrolling."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from oh_outlook_provider.i18n import _

WIDTH = 100


def wrapped(text: str) -> list[str]:
    """One message as lines of at most WIDTH characters, continuation lines indented."""
    return textwrap.wrap(text, WIDTH, subsequent_indent="    ")


def rejected_lines(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """One message per rejected appointment, naming the record, the mailbox if any, and the reason."""
    lines: list[str] = []
    for item in items:
        if item.get("mailbox"):
            text = _("rejected appointment {record} ({mailbox}): {reason}").format(
                record=item["record_id"], mailbox=item["mailbox"], reason=item["reason"])
        else:
            text = _("rejected appointment {record}: {reason}").format(record=item["record_id"], reason=item["reason"])
        lines.extend(wrapped(text))
    return lines
