"""Provider registration, the connection form metadata and what Airflow's masker hides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

from oh_outlook_provider.get_provider_info import get_provider_info
from oh_outlook_provider.version_compat import AIRFLOW_V_3_2_PLUS
from tests.conftest import json_output

SCHEMA = Path(airflow.__file__).parent / "provider_info.schema.json"


def test_provider_info_validates_against_airflow_schema():
    jsonschema.validate(get_provider_info(), json.loads(SCHEMA.read_text()))


def test_package_name_is_the_distribution_name():
    from importlib.metadata import distribution

    assert get_provider_info()["package-name"] == distribution("oh-outlook-provider").metadata["Name"]


def _office365() -> dict:
    return next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "office365")


def test_office365_form_has_the_seed_setup_fields_with_german_labels():
    conn = _office365()
    fields = conn["conn-fields"]
    assert fields["tenant_id"]["label"] == "Tenant ID (Mandanten-ID)"
    assert "Gültig bis" in fields["credential_valid_until"]["label"]
    assert fields["credential_valid_until"]["schema"]["format"] == "date"
    assert fields["national_cloud"]["schema"]["enum"] == ["global", "usgov", "usgov-dod", "china"]
    assert fields["certificate_private_key"]["schema"]["format"] == "password"
    relabel = conn["ui-field-behaviour"]["relabeling"]
    assert "Anwendungs-ID" in relabel["login"] and "Geheimer Clientschlüssel" in relabel["password"]
    assert set(conn["ui-field-behaviour"]["hidden-fields"]) >= {"host", "port", "schema"}


def test_masker_hides_secrets_and_nothing_else():
    from tests.airflow_lines import secrets_masker
    should_hide_value_for_key = secrets_masker.should_hide_value_for_key

    fields = set(_office365()["conn-fields"]) | {"password"}
    hidden = {name for name in fields if should_hide_value_for_key(name)}
    assert hidden == {"certificate_private_key", "password"}
    oh = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "openhandwerk")
    assert not {name for name in oh["conn-fields"] if should_hide_value_for_key(name)}


def test_airflow_cli_lists_provider_and_connection_types():
    airflow_bin = Path(sys.executable).parent / "airflow"
    out = subprocess.run([str(airflow_bin), "providers", "hooks", "-o", "json"], capture_output=True, text=True,
                         check=True).stdout
    hooks = {h["connection_type"]: h for h in json_output(out)}
    assert hooks["office365"]["class"] == "oh_outlook_provider.hooks.office365.Office365Hook"
    assert hooks["openhandwerk"]["package_name"] == "oh-outlook-provider"
    assert hooks["office365"]["hook_name"] == "Office 365 (Microsoft Graph)"
    listed = subprocess.run([str(airflow_bin), "providers", "list", "-o", "json"], capture_output=True, text=True,
                            check=True).stdout
    providers = {p["package_name"]: p for p in json_output(listed)}
    assert providers["oh-outlook-provider"]["version"] == get_provider_info()["versions"][0]


def test_connection_form_metadata_as_the_ui_receives_it():
    """GET /ui/connections/hook_meta is what the React form renders; it never imports our hook."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m.model_dump() for m in HookMetaService.hook_meta_data()}
    office = meta["office365"]
    assert office["hook_name"] == "Office 365 (Microsoft Graph)"
    assert office["standard_fields"]["host"]["hidden"] and not office["standard_fields"]["password"]["hidden"]
    assert office["standard_fields"]["login"]["title"] == "Application (client) ID (Anwendungs-ID)"
    extra = office["extra_fields"]
    assert extra["tenant_id"]["schema"]["title"] == "Tenant ID (Mandanten-ID)"
    assert extra["certificate_private_key"]["schema"]["format"] == "password"
    assert extra["national_cloud"]["value"] == "global"
    assert meta["openhandwerk"]["standard_fields"]["host"]["title"] == "API base URL"
    assert meta["openhandwerk"]["standard_fields"]["url_schema"]["title"] == "Account ID (idKn)"


def test_tenant_id_and_valid_until_show_their_format_in_the_form():
    """Issue 13 item 9: Airflow 3.3's form does not render placeholders for extra fields; the
    description (rendered under each field) carries the format hint instead."""
    from oh_outlook_provider.get_provider_info import get_provider_info

    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d" in fields["tenant_id"]["description"]
    assert "2028-11-26" in fields["credential_valid_until"]["description"]


def test_every_field_schema_is_valid_json_schema_and_its_default_passes_it():
    """Issue 26: the declaration the form renders is the one each connection is checked against."""
    from jsonschema import Draft202012Validator, FormatChecker

    from oh_outlook_provider.get_provider_info import EXTRA_ONLY_FIELDS, STANDARD_FIELDS

    for kind in get_provider_info()["connection-types"]:
        declared = {**STANDARD_FIELDS[kind["connection-type"]], **kind["conn-fields"],
                    **EXTRA_ONLY_FIELDS[kind["connection-type"]]}
        for name, field in declared.items():
            Draft202012Validator.check_schema(field["schema"])
            if "default" in field["schema"]:
                Draft202012Validator(field["schema"], format_checker=FormatChecker()).validate(field["schema"]["default"])
            assert field["label"], name
        assert kind["ui-field-behaviour"]["relabeling"] == {n: f["label"] for n, f in
                                                             STANDARD_FIELDS[kind["connection-type"]].items()}


@pytest.mark.skipif(not AIRFLOW_V_3_2_PLUS, reason="Airflow 3.0/3.1 build the form from the Python widgets "
                    "(hooks/connection_form.py, tested there), which carry no bounds; every line checks them when the "
                    "connection is read (tests/unit/hooks/test_connection_values.py)")
def test_the_3_3_form_receives_the_bounds_and_keeps_its_widgets():
    """Airflow 3.3's number input takes minimum/maximum; the other keywords pass through to the UI untouched."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m.model_dump() for m in HookMetaService.hook_meta_data()}
    page = meta["openhandwerk"]["extra_fields"]["page_size"]
    assert (page["schema"]["minimum"], page["schema"]["maximum"], page["value"]) == (1, 500, 200)
    office = meta["office365"]["extra_fields"]
    assert office["request_timeout"]["schema"]["type"] == ["number", "null"] and office["request_timeout"]["value"] == 60
    assert office["credential_valid_until"]["schema"]["format"] == "date"  # still the date picker
    assert office["tenant_id"]["schema"]["pattern"].startswith("^[0-9A-Fa-f]{8}")
