"""`python -m devtools.graph_schema PATH/TO/v1.0-Prod.csdl`: derive `graph_schema.json` from Microsoft's CSDL.

The generator stays out of the wheel: the shipped `oh_outlook_provider.graph.schema` only reads the
JSON file. The CSDL is microsoftgraph/msgraph-metadata's `schemas/v1.0-Prod.csdl`; the types listed
here are the ones the sandbox validates and the client writes, base types followed and flattened.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from oh_outlook_provider.graph.schema import DATA_FILE  # where the shipped reader looks

ORIGIN = "microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl (namespace microsoft.graph)"
ENTITY_TYPES = ("event", "calendar", "outlookCategory", "singleValueLegacyExtendedProperty", "application")
COMPLEX_TYPES = ("dateTimeTimeZone", "itemBody", "location", "physicalAddress", "outlookGeoCoordinates",
                 "patternedRecurrence", "recurrencePattern", "recurrenceRange", "passwordCredential", "keyCredential")
ENUM_TYPES = ("freeBusyStatus", "sensitivity", "bodyType", "importance", "categoryColor", "locationType",
              "eventType", "recurrencePatternType", "recurrenceRangeType", "dayOfWeek", "weekIndex")
_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def derive(csdl_path: str | Path) -> dict:
    """The data file's content read from Microsoft's CSDL (an XML file path).

    Returns {"origin": str, "entity_types" and "complex_types": {type: {property: type name}},
    "enums": {enum: [member, ...]}}. Raises OSError / ET.ParseError for an unreadable file and
    StopIteration / KeyError when the CSDL lacks the microsoft.graph namespace or a listed type.
    """
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


def main(argv: list[str], target: Path = DATA_FILE) -> int:
    """Write `derive(argv[0])` to `target` (the package's graph_schema.json); exit status 0, or 2 on bad usage."""
    if len(argv) != 1:
        print("usage: python -m devtools.graph_schema PATH/TO/v1.0-Prod.csdl", file=sys.stderr)
        return 2
    target.write_text(json.dumps(derive(argv[0]), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
