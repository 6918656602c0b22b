"""Lines for Airflow's task log view, which shows about 100 characters without scrolling."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

WIDTH = 100


def wrapped(text: str) -> list[str]:
    """One message as lines of at most WIDTH characters, continuation lines indented."""
    return textwrap.wrap(text, WIDTH, subsequent_indent="    ")


def rejected_lines(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """One message per rejected appointment, naming the record, the mailbox if any, and the reason."""
    lines: list[str] = []
    for item in items:
        where = f" ({item['mailbox']})" if item.get("mailbox") else ""
        lines.extend(wrapped(f"rejected appointment {item['record_id']}{where}: {item['reason']}"))
    return lines
