"""Shapes of the Microsoft Graph v1.0 types we write and read, derived from Microsoft's own schema.

`graph_schema.json` beside this module holds property names, types and enum members of the few
types the sandbox validates and the client writes, extracted from Microsoft's CSDL
(microsoftgraph/msgraph-metadata, schemas/v1.0-Prod.csdl). Regenerate it with
`python -m oh_outlook_provider.graph.schema PATH/TO/v1.0-Prod.csdl`; a test compares it with the
CSDL whenever the reference copy is beside the clone. Shapes only: behaviour (throttling,
`$batch` rules, errors) is cited per behaviour in docs/sandbox-fidelity.md.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("graph_schema.json")
ORIGIN = "microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl (namespace microsoft.graph)"
# The types we validate or write; base types are followed and flattened.
ENTITY_TYPES = ("event", "calendar", "outlookCategory", "singleValueLegacyExtendedProperty", "application")
COMPLEX_TYPES = ("dateTimeTimeZone", "itemBody", "location", "physicalAddress", "outlookGeoCoordinates",
                 "patternedRecurrence", "recurrencePattern", "recurrenceRange", "passwordCredential", "keyCredential")
ENUM_TYPES = ("freeBusyStatus", "sensitivity", "bodyType", "importance", "categoryColor", "locationType",
              "eventType", "recurrencePatternType", "recurrenceRangeType", "dayOfWeek", "weekIndex")
_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def derive(csdl_path: str | Path) -> dict:
    """The data file's content, read from Microsoft's CSDL."""
    root = ET.parse(csdl_path).getroot()
    schema = next(s for s in root.iter(f"{_EDM}Schema") if s.get("Namespace") == "microsoft.graph")
    kinds = {"EntityType": {}, "ComplexType": {}, "EnumType": {}}
    for node in schema:
        kind = node.tag.removeprefix(_EDM)
        if kind in kinds:
            kinds[kind][node.get("Name")] = node

    def properties(node: ET.Element, table: dict) -> dict[str, str]:
        base = node.get("BaseType")
        props = properties(table[base.split(".", 1)[1]], table) if base else {}
        for prop in node:
            if prop.tag in (f"{_EDM}Property", f"{_EDM}NavigationProperty"):
                props[prop.get("Name")] = prop.get("Type").replace("graph.", "")
        return props

    return {
        "origin": ORIGIN,
        "entity_types": {n: properties(kinds["EntityType"][n], kinds["EntityType"]) for n in ENTITY_TYPES},
        "complex_types": {n: properties(kinds["ComplexType"][n], kinds["ComplexType"]) for n in COMPLEX_TYPES},
        "enums": {n: [m.get("Name") for m in kinds["EnumType"][n] if m.tag == f"{_EDM}Member"] for n in ENUM_TYPES},
    }


@cache
def schema() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def properties_of(type_name: str) -> dict[str, str]:
    """Property name -> type name of an entity or complex type (inherited ones included)."""
    data = schema()
    return data["entity_types"].get(type_name) or data["complex_types"][type_name]


def enum_members(enum_name: str) -> tuple[str, ...]:
    return tuple(schema()["enums"][enum_name])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m oh_outlook_provider.graph.schema PATH/TO/v1.0-Prod.csdl", file=sys.stderr)
        return 2
    DATA_FILE.write_text(json.dumps(derive(argv[0]), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {DATA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
