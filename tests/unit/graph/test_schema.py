"""The Graph shapes the client writes, read from the shipped schema (graph/graph_schema.json)."""

from __future__ import annotations

from oh_outlook_provider.graph import schema as graph_schema


def test_shapes_we_write_are_in_the_schema():
    event = graph_schema.properties_of("event")
    for name in ("subject", "body", "start", "end", "isAllDay", "location", "categories", "showAs", "sensitivity",
                 "isReminderOn", "reminderMinutesBeforeStart", "transactionId", "singleValueExtendedProperties"):
        assert name in event
    assert graph_schema.enum_members("freeBusyStatus") == ("unknown", "free", "tentative", "busy", "oof",
                                                           "workingElsewhere")
    assert set(graph_schema.properties_of("physicalAddress")) == {"street", "city", "state", "countryOrRegion",
                                                                 "postalCode"}
