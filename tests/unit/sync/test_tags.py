"""Our marks on Outlook events: property ids, event keys, transaction ids, OData filters."""

from __future__ import annotations

import uuid

from oh_outlook_provider.sync.tags import (
    FINGERPRINT_PROP,
    KEY_PROP,
    PROPERTY_SET,
    SOURCE_PROP,
    EventKey,
    expand_tags,
    holds_prop,
    odata_quote,
    source_id,
    tag_filter,
    transaction_id,
)


def test_property_ids_are_named_string_properties_of_one_set():
    for prop, name in ((SOURCE_PROP, "ohSource"), (KEY_PROP, "ohKey"), (FINGERPRINT_PROP, "ohFingerprint")):
        assert prop == f"String {PROPERTY_SET} Name {name}"
    assert holds_prop("openhandwerk:4711") == f"String {PROPERTY_SET} Name ohHolds:openhandwerk:4711"
    uuid.UUID(PROPERTY_SET.strip("{}"))


def test_each_openhandwerk_account_is_its_own_source():
    assert source_id("4711") == "openhandwerk:4711" and source_id("4711") != source_id("4712")


def test_event_keys_round_trip_any_printable_id():
    for ident in ("T-FZ|17", "100%", "%7C", "a|b|c", "ü €/?#&'\"", "T-1", "%25|%7c"):
        key = EventKey("openhandwerk:4711", ident, "M|1")
        assert EventKey.parse(str(key)) == key
    assert str(EventKey("s", "T-1", "M-1")) == "s|T-1|M-1"  # keys written before read back unchanged
    plain = EventKey.parse("s|T-1|M-1")  # nothing to unescape: the common key, read without unescaping
    assert type(plain) is EventKey and (plain.source, plain.appointment_id, plain.employee_id) == ("s", "T-1", "M-1")
    assert str(EventKey("s", "a|b", "100%")) == "s|a%7Cb|100%25"


def test_keys_that_are_not_ours_do_not_parse():
    assert EventKey.parse("") is None and EventKey.parse(None) is None
    assert EventKey.parse("s|T-1") is None and EventKey.parse("s|T-1|M-1|x") is None
    assert EventKey.parse("s||M-1") is None


def test_transaction_ids_are_the_same_for_a_retry_and_new_for_another_run():
    key = EventKey("s", "T-1", "M-1")
    first = transaction_id(key, "scheduled__2026-03-01")
    assert first == transaction_id(EventKey("s", "T-1", "M-1"), "scheduled__2026-03-01")
    assert first != transaction_id(key, "scheduled__2026-03-02")
    assert first != transaction_id(EventKey("s", "T-1", "M-2"), "scheduled__2026-03-01")
    assert uuid.UUID(first).version == 5


def test_filters_quote_single_quotes_as_odata_does():
    assert odata_quote("O'Brien's") == "O''Brien''s"
    assert tag_filter(KEY_PROP, "s|O'Brien|M") == (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}' and ep/value eq 's|O''Brien|M')")


def test_expand_asks_for_our_three_properties_by_default():
    text = expand_tags()
    assert text.startswith("singleValueExtendedProperties($filter=") and text.endswith(")")
    assert text.count(" or ") == 2 and all(f"id eq '{p}'" in text for p in (SOURCE_PROP, KEY_PROP, FINGERPRINT_PROP))
    assert expand_tags((KEY_PROP,)) == f"singleValueExtendedProperties($filter=id eq '{KEY_PROP}')"
