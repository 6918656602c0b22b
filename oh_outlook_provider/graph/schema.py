"""Shapes of the Microsoft Graph v1.0 types we write and read, derived from Microsoft's own schema.

`graph_schema.json` beside this module holds property names, types and enum members of the few
types the sandbox validates and the client writes, extracted from Microsoft's CSDL
(microsoftgraph/msgraph-metadata, schemas/v1.0-Prod.csdl). This module only reads it; the generator
is developer tooling outside the wheel: `python -m devtools.graph_schema PATH/TO/v1.0-Prod.csdl`
from the checkout. A test compares the file with the CSDL whenever the reference copy is beside
the clone. Shapes only: behaviour (throttling, `$batch` rules, errors) is cited per behaviour in
docs/sandbox-fidelity.md.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("graph_schema.json")


@cache
def schema() -> dict:
    """The whole data file: {"origin", "entity_types", "complex_types", "enums"} (read once, then cached)."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def properties_of(type_name: str) -> dict[str, str]:
    """Property name -> type name of an entity or complex type (inherited ones included); KeyError if not listed."""
    data = schema()
    return data["entity_types"].get(type_name) or data["complex_types"][type_name]


def enum_members(enum_name: str) -> tuple[str, ...]:
    """The members of a Graph enum type in the CSDL's order; KeyError if not listed."""
    return tuple(schema()["enums"][enum_name])
