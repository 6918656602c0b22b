"""graph_schema.json holds what Microsoft's CSDL says (checked where the reference copy is beside the clone)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from oh_outlook_provider import graph_schema

CSDL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "msgraph" / "v1.0-Prod.csdl"


@pytest.mark.skipif(not CSDL.exists() and not os.environ.get("CI"), reason="Microsoft's CSDL is not beside this clone")
def test_data_file_matches_microsofts_schema():
    assert json.loads(graph_schema.DATA_FILE.read_text()) == graph_schema.derive(CSDL)


def test_shapes_we_write_are_in_the_schema():
    event = graph_schema.properties_of("event")
    for name in ("subject", "body", "start", "end", "isAllDay", "location", "categories", "showAs", "sensitivity",
                 "isReminderOn", "reminderMinutesBeforeStart", "transactionId", "singleValueExtendedProperties"):
        assert name in event
    assert graph_schema.enum_members("freeBusyStatus") == ("unknown", "free", "tentative", "busy", "oof",
                                                           "workingElsewhere")
    assert set(graph_schema.properties_of("physicalAddress")) == {"street", "city", "state", "countryOrRegion",
                                                                 "postalCode"}
