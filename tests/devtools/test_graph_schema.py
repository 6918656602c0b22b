"""The generator (devtools/graph_schema.py): the shipped graph_schema.json is what Microsoft's CSDL says
(checked where the reference copy is beside the clone)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devtools.graph_schema import derive
from oh_outlook_provider.graph import schema as graph_schema

RELATIVE = Path("shared") / "reference" / "msgraph" / "v1.0-Prod.csdl"


def _csdl() -> Path | None:
    """Microsoft's CSDL: $OH_GRAPH_CSDL, or a shared/ folder beside the clone (or above it)."""
    if os.environ.get("OH_GRAPH_CSDL"):
        return Path(os.environ["OH_GRAPH_CSDL"])
    return next((p / RELATIVE for p in Path(__file__).resolve().parents[2:6] if (p / RELATIVE).exists()), None)


@pytest.mark.skipif(_csdl() is None, reason="Microsoft's CSDL (shared/reference/msgraph) is not beside this clone")
def test_data_file_matches_microsofts_schema():
    assert json.loads(graph_schema.DATA_FILE.read_text()) == derive(_csdl())
