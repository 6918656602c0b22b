"""Canonical field texts, per-field hashes and digests: equal before and after a Graph round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.sync import fingerprint as fp


def test_a_timed_moment_reads_the_same_in_any_zone_and_precision_graph_answers_in():
    ours = fp.text_of("start", {"dateTime": "2026-03-02T08:00:00", "timeZone": "Europe/Berlin"}, False)
    graphs = fp.text_of("start", {"dateTime": "2026-03-02T08:00:00.0000000", "timeZone": "W. Europe Standard Time"}, False)
    utc = fp.text_of("start", {"dateTime": "2026-03-02T07:00:00Z", "timeZone": "UTC"}, False)
    assert ours == graphs == utc == "2026-03-02T07:00:00Z"


def test_an_all_day_moment_is_its_date_and_odd_values_never_crash():
    assert fp.text_of("end", {"dateTime": "2026-03-03T00:00:00.0000000", "timeZone": "UTC"}, True) == "2026-03-03"
    assert fp.text_of("start", None, False) == "" and fp.text_of("start", {"dateTime": ""}, False) == ""
    assert fp.text_of("start", {"dateTime": "garbage", "timeZone": "UTC"}, False) == "garbage"


def test_the_repeated_autumn_hour_is_always_its_first_occurrence():
    assert fp.utc_text(dt.datetime(2026, 10, 25, 2, 30), "Europe/Berlin") == "2026-10-25T00:30:00Z"
    assert fp.utc_text(dt.datetime(2026, 10, 25, 2, 30, fold=1), "Europe/Berlin") == "2026-10-25T00:30:00Z"


@pytest.mark.parametrize(("name", "value", "text"), [
    ("subject", "  Wartung  ", "Wartung"),
    ("subject", None, ""),
    ("location", {"displayName": " Köln ", "address": {"city": "Köln"}}, "Köln"),
    ("location", "not a dict", ""),
    ("body", {"contentType": "text", "content": "Hallo"}, "Hallo"),
    ("isAllDay", None, "false"),
    ("categories", ["b", "a"], "a\x1fb"),
    ("showAs", "busy", "busy"),
    ("isReminderOn", True, "true"),
    ("reminderMinutesBeforeStart", 15, "15"),
    ("sensitivity", None, ""),
    ("other", {"b": 1, "a": "ü"}, '{"a": "ü", "b": 1}'),
])
def test_canonical_texts(name, value, text):
    assert fp.text_of(name, value, False) == text


def test_category_order_does_not_change_the_hash_a_category_does():
    assert fp.field_hash("categories", ["a", "b"], False) == fp.field_hash("categories", ["b", "a"], False)
    assert fp.field_hash("categories", ["a"], False) != fp.field_hash("categories", ["a", "b"], False)


def test_the_stamp_holds_every_field_and_both_digests_and_round_trips():
    fields = {"subject": "Wartung", "body": {"content": "x"}, "isAllDay": False,
              "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": "Europe/Berlin"}}
    texts = fp.texts(fields)
    stamp = fp.stamp(texts)
    assert set(stamp) == {*fp.MANAGED, fp.ALL, fp.CMP} and all(len(v) == 8 for v in stamp.values())
    assert stamp == {**fp.hashes(fields), fp.ALL: fp.digest(fp.MANAGED, texts), fp.CMP: fp.comparable_digest(texts)}
    assert fp.decode(fp.encode(stamp)) == stamp and fp.encode(stamp).startswith("v1:")


def test_the_comparable_digest_ignores_the_body_the_full_one_does_not():
    one = fp.texts({"subject": "a", "body": {"content": "x"}})
    two = fp.texts({"subject": "a", "body": {"content": "y"}})
    assert fp.comparable_digest(one) == fp.comparable_digest(two)
    assert fp.digest(fp.MANAGED, one) != fp.digest(fp.MANAGED, two)
    assert fp.comparable_digest(one) != fp.comparable_digest(fp.texts({"subject": "b", "body": {"content": "x"}}))
    assert "body" not in fp.COMPARABLE and len(fp.COMPARABLE) == len(fp.MANAGED) - 1


@pytest.mark.parametrize("text", [None, "", "v0:{}", "v1:not json", "v1:[1, 2]", "garbage"])
def test_an_unreadable_fingerprint_decodes_to_nothing(text):
    assert fp.decode(text) == {}


def test_values_of_other_types_are_read_as_text():
    assert fp.decode('v1:{"subject": 1, "_all": "0000abcd"}') == {"subject": "1", "_all": "0000abcd"}


MOMENT = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.fixed_dictionaries(
    {"dateTime": st.sampled_from(["2026-03-02T08:00:00.0000000", "2026-10-25T02:30:00", "2026-03-02T07:00:00Z",
                                  "", "garbage", "0001-01-01T00:00:00"]),
     "timeZone": st.sampled_from(["W. Europe Standard Time", "UTC", "Europe/Berlin", None])}))
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=8), max_size=3))
EVENTS = st.fixed_dictionaries({}, optional={
    "subject": ANY, "start": MOMENT, "end": MOMENT, "isAllDay": ANY, "categories": ANY,
    "location": st.one_of(ANY, st.fixed_dictionaries({"displayName": ANY})), "showAs": ANY, "isReminderOn": ANY,
    "reminderMinutesBeforeStart": ANY, "sensitivity": ANY})


@given(EVENTS)
@settings(max_examples=400, deadline=None)
def test_the_comparable_texts_written_out_are_the_generic_ones(event):
    """`comparable_texts` (every event a run reads) is `texts(event, COMPARABLE)`, odd values included,
    and a moment's remembered text is the one worked out anew."""
    assert fp.comparable_texts(event) == fp.texts(event, fp.COMPARABLE)
    fp._moment_of.cache_clear()
    fp._CATEGORY_TEXTS.clear()
    assert fp.comparable_texts(event) == fp.texts(event, fp.COMPARABLE)


def test_remembered_moments_tell_all_day_from_timed_and_stay_bounded():
    moment = {"dateTime": "2026-03-02T23:30:00.0000000", "timeZone": "W. Europe Standard Time"}
    assert fp.text_of("start", moment, False) == "2026-03-02T22:30:00Z"
    assert fp.text_of("start", moment, True) == "2026-03-02"
    assert fp.text_of("start", moment, False) == "2026-03-02T22:30:00Z"
    for hour in range(10):
        fp.text_of("start", {"dateTime": f"2026-03-02T{hour:02}:00:00", "timeZone": "UTC"}, False)
    assert fp._moment_of.cache_info().maxsize == fp.MOMENTS_CACHED


# ---------------------------------------------------------------- issue 25: the stored digests without decoding
HEX8, HEX16 = st.text("0123456789abcdef", min_size=8, max_size=8), st.text("0123456789abcdef", min_size=16, max_size=16)
STORED = st.dictionaries(st.sampled_from(["_all", "_cmp", "_src", "subject", "body", "_x", "a_b", "Start"]),
                         st.one_of(HEX8, HEX16, st.text(max_size=10), st.integers()), max_size=8)


@st.composite
def fingerprint_texts(draw):
    """Fingerprints as we write them, in another key order or spacing, with repeated keys, cut or appended to."""
    stored = draw(STORED)
    keys = sorted(stored) if draw(st.booleans()) else list(stored)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = "v1:{" + separators[0].join(f'"{k}"{separators[1]}{fp.json.dumps(stored[k])}' for k in keys) + "}"
    tail = draw(st.sampled_from(["", "", ',"_all":"ffffffff"}', ',"_cmp":"00000000"', "}", " "]))
    if tail:
        text = text[:-1] + tail if tail.startswith(",") else text + tail
    return text[:draw(st.integers(0, len(text)))] if draw(st.booleans()) and draw(st.booleans()) else text


@given(fingerprint_texts())
@settings(max_examples=500, deadline=None)
def test_the_marks_are_the_decoded_digests_whatever_the_text(text):
    """`marks` reads ALL, CMP and SRC straight from a fingerprint as we write it: for any text, what decoding
    gives (a repeated key counts with its last value, as JSON reads it; an unreadable text gives none)."""
    stored = fp.decode(text)
    assert fp.marks(text) == (stored.get(fp.ALL), stored.get(fp.CMP), stored.get(fp.SRC))


def test_the_fingerprint_we_write_is_read_without_decoding():
    texts = fp.texts({"subject": "a", "body": {"content": "x"}, "start": {"dateTime": "2026-03-02T08:00:00"}})
    ours = fp.encode(fp.stamp(texts, "0123456789abcdef"))
    assert fp._OURS.fullmatch(ours)  # the fast path: the three digests by position
    assert fp.marks(ours) == (fp.digest(fp.MANAGED, texts), fp.comparable_digest(texts), "0123456789abcdef")
    assert fp.marks(fp.encode(fp.stamp(texts))) == (fp.digest(fp.MANAGED, texts), fp.comparable_digest(texts), None)
    assert fp.marks(None) == fp.marks("") == fp.marks("v1:[]") == (None, None, None)


def test_the_digest_is_the_joined_field_texts():
    """What every stored digest is: "name=text" per field, joined by RS, CRC-32 in 8 hex digits."""
    texts = ("a%s", "b\x1ec", "")
    assert fp.digest(("subject", "body", "start"), texts) == format(
        fp.zlib.crc32(b"subject=a%s\x1ebody=b\x1ec\x1estart="), "08x")
    assert fp.digest(("subject", "body", "start"), iter(texts)) == fp.digest(("subject", "body", "start"), texts)
    with pytest.raises(TypeError):
        fp.digest(("subject", "body"), texts)
