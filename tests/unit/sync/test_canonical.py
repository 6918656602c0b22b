"""The canonical one-line form: at most 255 UTF-16 units, no control character, cut on a character
boundary, idempotent; what Exchange keeps unchanged under each emulated behaviour (rows E7, E8)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.sync.canonical import MAX_UNITS, category_names, cut, flattened, one_line, units

# Text a person or openHandwerk may put in a title: emoji (astral, with modifiers and joiners), combining
# marks, CR/LF, tabs, zero-width characters, and plenty of it.
PIECES = st.sampled_from(["Wartung", " ", "Ö", "ß", "🔧", "👍🏽", "👨‍👩‍👧", "🇩🇪", "e\u0301", "a\u0308\u0323", "\r\n",
                          "\n", "\t", "\u200b", "\u200d", "\ufeff", "  ", "\u2028", "x" * 40, "한", "\u1100\u1161\u11a8"])
TITLES = st.one_of(st.text(max_size=400), st.lists(PIECES, max_size=60).map("".join))


@given(TITLES)
@settings(max_examples=400, deadline=None)
def test_the_form_is_short_one_line_stripped_and_idempotent(text):
    shown = one_line(text)
    assert units(shown) <= MAX_UNITS
    assert not any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in shown)
    assert shown == shown.strip() and one_line(shown) == shown


@given(TITLES, st.sampled_from([MAX_UNITS, 10, 3, 1]))
@settings(max_examples=600, deadline=None)
def test_the_shortcut_for_canonical_text_changes_nothing(text, limit):
    """`one_line` returns an already canonical text as it is (the rerun's hot path); the same as the
    step-by-step form for every text, the wider blanks, separators and lone surrogates included."""
    assert one_line(text, limit) == (flattened(text, limit) if text else "")
    for odd in ("\xa0x", "x\u3000", "a\u2029b", "\ud800", "x\u200b", "\ufeffx", "a" * (limit + 1)):
        assert one_line(odd, limit) == flattened(odd, limit)


@given(TITLES)
@settings(max_examples=400, deadline=None)
def test_a_cut_never_splits_a_character(text):
    flat = one_line(text, limit=10_000)  # the text before any cut
    shown = one_line(text)
    assert flat.startswith(shown)
    rest = flat[len(shown):].lstrip()
    if rest and shown:
        first = rest[0]
        assert unicodedata.category(first) not in ("Mn", "Mc", "Me") and first != "\u200d" and shown[-1] != "\u200d"
        assert not "\U0001f3fb" <= first <= "\U0001f3ff"


def test_the_issue_titles():
    """Issue 21: 255 code points but more than 255 UTF-16 units; and a line break."""
    long = "Wartung Heizung – Fam. Özdemir " + "🔧" * 12 + " " + "x" * 220
    assert len(long[:255]) == 255 and units(long[:255]) > MAX_UNITS  # what `title[:255]` sent before
    shown = one_line(long)
    assert units(shown) == MAX_UNITS and shown == long[:len(shown)] and shown.endswith("x")
    assert one_line("Montage\nKüche Block B") == "Montage Küche Block B"
    assert one_line(" Montage \r\n\t Küche\u2028Block\tB ") == "Montage Küche Block B"


@pytest.mark.parametrize("text, limit, kept", [
    ("ab🔧", 3, "ab"),  # no half of a surrogate pair
    ("abe\u0301", 3, "ab"),  # no accent without its letter
    ("a👍🏽", 4, "a"),  # no skin tone without its hand
    ("a👨‍👩‍👧", 6, "a"),  # no family split at a joiner
    ("🇩🇪🇫🇷", 6, "🇩🇪"),  # no half of a flag
])
def test_cuts_keep_whole_characters(text, limit, kept):
    assert cut(text, limit) == kept


def test_lone_surrogates_and_empty_values():
    assert one_line("a\ud83db") == "a\ufffdb"
    assert one_line(None) == one_line("") == one_line("\r\n\t") == ""


def test_category_names_once_each_without_regard_to_case():
    assert category_names(["Baustelle", " baustelle ", "Montage\nKüche", "", "BAUSTELLE", None]) == [
        "Baustelle", "Montage Küche"]



def test_units_counts_as_utf16_does():
    """Exchange counts UTF-16 code units: one per character up to U+FFFF (a lone surrogate too), two above."""
    assert units("") == 0 and units("Baustelle") == 9 and units("Küche") == 5
    assert units("🔧") == 2 and units("a\ud800b") == 3 and units("🇩🇪") == 4
    text = "Wartung Heizung – Fam. Özdemir " + "🔧" * 12 + " " + "x" * 220
    assert units(text) == len(text.encode("utf-16-le")) // 2 == len(text) + 12
