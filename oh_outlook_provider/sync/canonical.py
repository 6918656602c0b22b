"""One-line texts as Exchange keeps them: the canonical form of a subject, a location's display name
and a category name.

Exchange's store keeps a subject in at most 255 UTF-16 code units and without line breaks
(PidTagSubject; MS-OXCICAL for imports; exchangelib and Outlook Google Calendar Sync report it).
What Graph does with a longer or multi-line text is not documented: cut, cut with "...", refused,
breaks dropped, made spaces or kept (docs/sandbox-fidelity.md rows E7, E8; the sandbox emulates
each). A text already in canonical form comes back unchanged under every one of them, so the sync
sends this form and compares what Graph returns in this form too: a round trip changes nothing,
and a rerun writes nothing.

The form: every run of control characters (CR, LF, tab and the other C0/C1 controls, the Unicode
line and paragraph separators) with the blanks around it becomes one space; a lone surrogate
becomes U+FFFD; surrounding blanks go; at most 255 UTF-16 code units, cut before a character that
belongs to the one before it (a combining mark, an emoji modifier or variation selector, either
side of a zero-width joiner, the second half of a flag), so no surrogate pair, combining sequence
or emoji is split. `one_line` is idempotent. Zero-width characters are kept (Exchange keeps them).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_UNITS = 255  # UTF-16 code units: PidTagSubject, Outlook's location and category name fields
_BREAKS = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029]+[\s\x00-\x1f\x7f-\x9f\u2028\u2029]*")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
ZWJ = "\u200d"


def units(text: str) -> int:
    """Length in UTF-16 code units, as Exchange counts: a character beyond U+FFFF counts twice."""
    if text.isascii():  # the common case, without a pass in Python over every character
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a lone surrogate is one unit, as in UTF-16


def _is_regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _joins_previous(text: str, i: int) -> bool:
    """Whether text[i] belongs to the character before it (cutting before it would split one)."""
    char, before = text[i], text[i - 1]
    if char == ZWJ or before == ZWJ:
        return True
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):  # combining marks, variation selectors
        return True
    if "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f":  # skin tones, emoji tags
        return True
    if "\u1160" <= char <= "\u11ff" or "\ud7b0" <= char <= "\ud7ff":  # Hangul vowel and final jamo
        return True
    if _is_regional(char) and _is_regional(before):  # the second half of a flag: count the pairs before
        run = 0
        while i - 1 - run >= 0 and _is_regional(text[i - 1 - run]):
            run += 1
        return run % 2 == 1
    return False


def cut(text: str, limit: int = MAX_UNITS) -> str:
    """The longest start of `text` within `limit` UTF-16 units that ends on a character boundary."""
    if units(text) <= limit:
        return text
    end, used = 0, 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > limit:
            break
        used += width
        end += 1
    while 0 < end < len(text) and _joins_previous(text, end):
        end -= 1
    return text[:end]


def one_line(text: str | None, limit: int = MAX_UNITS) -> str:
    """The canonical form of a one-line text (see the module docstring); "" for None."""
    if not text:
        return ""
    if text.isprintable() and text[0] != " " and text[-1] != " " and (2 * len(text) <= limit or units(text) <= limit):
        # Already canonical, as nearly every text is: str.isprintable() is False for every control
        # character, line and paragraph separator, surrogate and blank but the space (Unicode's
        # "Other" and "Separator" categories), and no space stands at either end.
        return text
    return flattened(text, limit)


def flattened(text: str, limit: int = MAX_UNITS) -> str:
    """The canonical form worked out step by step (what `one_line` returns for every text)."""
    flat = _LONE_SURROGATE.sub("\ufffd", _BREAKS.sub(" ", text)).strip()
    return cut(flat, limit).rstrip()


def category_names(names: Iterable[str] | None) -> list[str]:
    """Category names in canonical form: one line each, empty ones left out, and a name repeated
    without regard to case kept once, as first written (Outlook matches category names so)."""
    out: dict[str, str] = {}
    for name in names or ():
        text = one_line(name) if isinstance(name, str) else ""
        if text and text.casefold() not in out:
            out[text.casefold()] = text
    return list(out.values())
