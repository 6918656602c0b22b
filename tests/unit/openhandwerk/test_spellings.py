"""The spellings a record holds find what every spelling finds."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from oh_outlook_provider.openhandwerk import api
from oh_outlook_provider.openhandwerk.spellings import spellings

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
SPELLINGS = [value for name, value in vars(api).items() if name.startswith(("APPOINTMENT_", "ADDRESS_", "EMPLOYEE_"))
             and isinstance(value, tuple)]
SPELLED = st.dictionaries(st.sampled_from(sorted({n for names in SPELLINGS for n in names} | {"x", "timezone"})),
                          JSON, max_size=10)


@settings(max_examples=400, deadline=None)
@given(SPELLED)
def test_the_spellings_a_record_holds_find_what_every_spelling_finds(record):
    for names in SPELLINGS:
        assert api.first(record, spellings(record)[names]) == api.first(record, names), names




def test_a_mapping_that_is_no_dict_is_asked_for_every_spelling():
    """Its `get` may answer for keys it does not list (a defaultdict-like view): nothing is left out."""
    record = MappingProxyType({"titel": "Wartung"})
    assert spellings(record)[api.APPOINTMENT_TITLE] == api.APPOINTMENT_TITLE


def test_records_of_one_shape_share_what_they_hold_and_other_shapes_do_not():
    one, other = {"id": "1", "titel": "a"}, {"titel": "b", "id": "2"}
    assert spellings(one) is spellings({"id": "9", "titel": "z"})
    assert spellings(one)[api.APPOINTMENT_TITLE] == spellings(other)[api.APPOINTMENT_TITLE] == ("titel",)
    assert spellings({"id": "1", "title": "a"})[api.APPOINTMENT_TITLE] == ("title",)
