"""The emulator's JSON by msgspec (issue 25) reads and writes exactly what the standard library did."""

from __future__ import annotations

import json

import pytest

from devtools.sandbox.jsontext import JSONFloat, RawJSON, decode, encode
from devtools.sandbox.openhandwerk import encode as oh_encode
from devtools.sandbox.shown import encode_json


def _stdlib(value: object) -> bytes:
    """What the emulator wrote before (Starlette's JSONResponse.render)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


TEXTS = ["", "Grüße aus Köln", "Straße 5\r\n\tHinterhaus", "\x00\x01\x08\x0b\x0c\x1f\x7f", 'a "b" \\c /d',
         "\u2028\u2029", "\u00a0\u200b\ufeff", "😀 Bau ✓", "—", "<html>&amp;</html>", "\\u00e9"]
NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, True, False]
FLOATS = ["0.0", "-0.0", "1.5", "0.1", "1e16", "1E+16", "1e-7", "123456789.123456789", "2.5e-308", "1.7976931348623157e308",
          "5e-324", "100.0", "1e22", "0.000123"]


def _answers() -> list[object]:
    floats = [decode(text.encode()) for text in FLOATS]
    return [
        *TEXTS, *NUMBERS, None, *floats, [], {}, (),
        {"value": [{"id": "AAMk=", "subject": text, "n": n, "ok": None, "f": floats}
                   for text, n in zip(TEXTS, NUMBERS[:len(TEXTS)], strict=True)],
         "@odata.nextLink": "https://graph.example/v1.0/users?$skip=10"},
        {1: "int key", "nested": [[[{"a": [1, [2, [3]]]}]]], "tuple": (1, "zwei", None)},
        decode(json.dumps({"float": 1.5, "big": 1e300, "list": [0.5, 2.0, -3.25e-5]}).encode()),
    ]


@pytest.mark.parametrize("value", _answers())
def test_an_answer_is_the_standard_librarys_bytes(value):
    assert encode(value, _stdlib) == _stdlib(value)
    assert encode_json(value) == _stdlib(value)
    assert oh_encode(value) == _stdlib(value)


def test_an_event_text_spliced_into_an_answer_is_the_bytes_of_the_same_values():
    event = {"id": "A", "subject": "Grüße \"x\"\u2028", "n": decode(b"[1,2.5e16,null,true]")}
    for text in (_stdlib(event), _stdlib(event).decode()):
        answer = {"responses": [{"id": "1", "status": 201, "body": RawJSON(text)}], "value": [RawJSON(text), "\x00"]}
        plain = {"responses": [{"id": "1", "status": 201, "body": event}], "value": [event, "\x00"]}
        assert encode_json(answer) == _stdlib(plain)


@pytest.mark.parametrize("body", [b"NaN", b"[Infinity]", b'{"x": -Infinity}', b"1e400", b'{"x": [1E999]}'])
def test_a_float_json_cannot_hold_read_from_a_body_is_refused_when_written_as_before(body):
    value = decode(body)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        encode_json(value)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        oh_encode(value)


class _Appointment:
    """An object JSON cannot hold."""


@pytest.mark.parametrize("value", [object(), {"when": object()}, [_Appointment()], {(1, 2): "tuple key"}])
def test_a_value_json_cannot_hold_is_a_type_error_as_before(value):
    with pytest.raises(TypeError):
        encode_json(value)
    with pytest.raises(TypeError):
        oh_encode(value)


def test_a_lone_surrogate_and_a_key_the_standard_library_spells_are_as_before():
    with pytest.raises(UnicodeEncodeError):
        encode_json({"subject": "Baustelle \ud83d"})
    for value in ({True: 1, None: 2, 1.5: 3}, {False: [1]}):
        assert encode_json(value) == _stdlib(value)


BODIES = [
    b'{"requests": [{"id": "1", "method": "POST", "url": "/users/x/events", "body": {"subject": "Gr\\u00fc\\u00dfe"}}]}',
    '{"subject": "Grüße ✓", "n": 12345678901234567890123, "x": 1.5, "ok": null, "t": true}'.encode(),
    b'{"a": 1, "a": 2}', b" [1, 2.0, -0.0, 1e5] ", b'"\\ud83d"', b'"\\u2028"', b"\xef\xbb\xbf{\"bom\": 1}",
    '{"utf16": "ü"}'.encode("utf-16"), b"1\x00", b"NaN", b"[Infinity, -Infinity]", b"1e400", b'"a\x7fb"', b"-0",
    b"[" * 600 + b"]" * 600, b"{" + b'"a":{' * 300 + b"}" * 301,
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_reads_as_json_loads_reads_it_with_floats_written_back_as_read(body):
    got, expected = decode(body), json.loads(body)
    assert repr(got) == repr(expected)
    floats = [v for v in (got if isinstance(got, list) else [got]) if isinstance(v, float)]
    assert all(type(v) is JSONFloat for v in floats)


@pytest.mark.parametrize("body", [b"", b"<html>Bad gateway</html>", b'{"a": 1', b"[1,]", b"01", b'"a\x01b"', b"+1",
                                  "Stra\u00dfe".encode("latin-1"), b'{"a": 1} x', b"9" * 5000])
def test_a_body_json_loads_refuses_is_refused_with_a_value_error(body):
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        decode(body)


def test_a_body_nested_deeper_than_the_standard_library_reads_is_refused_as_before():
    for depth in (994, 995, 996, 997, 5000):
        body = b"[" * depth + b"]" * depth
        try:
            json.loads(body)
        except RecursionError:
            with pytest.raises(RecursionError):
                decode(body)
        else:
            assert decode(body) == json.loads(body)
