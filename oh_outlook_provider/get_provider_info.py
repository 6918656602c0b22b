"""Provider metadata read by Airflow's ProvidersManager (entry point `apache_airflow_provider`).

As in Airflow's own providers, this file declares the hooks, operators, sensors, triggers and the
connection types; the UI builds each connection form from `conn-fields` (a JSON schema per field)
and `ui-field-behaviour`. Cheap to import: no msal, no requests.
"""

from __future__ import annotations

from oh_outlook_provider import __version__

OFFICE365_CONN_TYPE = "office365"
OPENHANDWERK_CONN_TYPE = "openhandwerk"

# Bounds of the services, checked whenever a connection is read (hooks/connection_values.py). Airflow 3.3's
# form reads `type`, `enum`, `format`, `minimum`/`maximum` and `minLength`/`maxLength` and passes every other
# keyword through untouched, so `pattern`, `exclusiveMinimum` and `contentSchema` cost the form nothing.
GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
# Entra takes the tenant's GUID (the guide's Mandanten-ID) or one of its domains (firma.onmicrosoft.com).
TENANT_PATTERN = GUID_PATTERN + r"|^(?=.{4,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
HTTPS_PATTERN = r"^https://[^\s/?#@]+(/\S*)?$"
THUMBPRINT_PATTERN = r"^[0-9A-Fa-f]{40}$"  # SHA-1, as Entra shows it beside the certificate
PEM_KEY_PATTERN = r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
# openHandwerk's public API documentation states no maximum for `limit`; the sandbox answers 400 above
# 500 (devtools/sandbox/openhandwerk.py), so 500 is the largest page the provider has ever been run with.
MAX_PAGE_SIZE = 500
MAX_TIMEOUT = 600  # seconds; Graph and openHandwerk answer in far less, a longer wait only hides a dead link
PATH_NAMES = ("login", "employees", "appointments", "appointment")  # openhandwerk/api.DEFAULT_PATHS


def _text(label: str, description: str, **schema) -> dict:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}


def _office365_fields() -> dict:
    # Extra keys are chosen for Airflow's secrets masker: anything holding a secret contains
    # "private_key"/"password"; nothing else contains "secret", "token", "proxy" ... or its
    # value (a date, a URL) would be starred out of every log line.
    return {
        "tenant_id": _text(
            "Tenant ID (Mandanten-ID)",
            "Directory (tenant) ID from Microsoft Entra admin center > Overview; "
            "a GUID such as 6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d.",
            pattern=TENANT_PATTERN,
        ),
        "credential_valid_until": _text(
            "Client secret valid until (Gültig bis)",
            "Expiry date shown under Certificates & secrets, as 2028-11-26 or 26.11.2028. "
            "Drives the expiry warning; with the optional permission Application.Read.All the "
            "date is read from Entra and this one checked against it.",
            format="date",
        ),
        "national_cloud": {
            "label": "National cloud",
            "description": "global = Microsoft 365 worldwide (Germany included).",
            "schema": {
                "type": ["string", "null"],
                "enum": ["global", "usgov", "usgov-dod", "china"],
                "default": "global",
            },
        },
        "certificate_private_key": _text(
            "Certificate private key (PEM, instead of a secret)",
            "Optional: PEM private key (and certificate) registered under Certificates & secrets.",
            format="password", pattern=PEM_KEY_PATTERN,
        ),
        "certificate_thumbprint": _text(
            "Certificate thumbprint",
            "SHA-1 thumbprint shown beside the uploaded certificate.",
            pattern=THUMBPRINT_PATTERN,
        ),
        "calendar_name": _text(
            "Target calendar name",
            "Empty = each user's default calendar. A named calendar is created when missing.",
            maxLength=255,
        ),
        "authority_url": _text(
            "Authority URL override",
            "Only for the sandbox or a proxy, e.g. https://127.0.0.1:8443. Empty = by national cloud.",
            pattern=HTTPS_PATTERN,
        ),
        "graph_url": _text(
            "Graph base URL override",
            "Only for the sandbox or a proxy. Empty = by national cloud.",
            pattern=HTTPS_PATTERN,
        ),
        "ca_bundle": _text(
            "CA bundle path",
            "Optional path to a CA file for TLS verification (the sandbox prints it).",
            maxLength=4096,
        ),
        "request_timeout": {
            "label": "Request timeout (seconds)",
            "description": f"Read timeout per HTTP request to Microsoft; above 0, at most {MAX_TIMEOUT}.",
            "schema": {"type": ["number", "null"], "default": 60, "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT},
        },
    }


def _openhandwerk_fields() -> dict:
    return {
        "timezone": _text(
            "Appointment time zone", "Zone of openHandwerk's wall-clock times.", default="Europe/Berlin",
            maxLength=64,
        ),
        "page_size": {
            "label": "Page size",
            "description": f"Records per request when listing employees and appointments; 1 to {MAX_PAGE_SIZE}.",
            "schema": {"type": ["integer", "null"], "default": 200, "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
        "web_url": _text(
            "Web app URL for links",
            "Optional: base URL of the openHandwerk web app; events then link back to it.",
            pattern=HTTPS_PATTERN,
        ),
        "paths": _text(
            "Path overrides (JSON)",
            'Optional, e.g. {"appointments": "/termine"}; see the README for the keys.',
            contentMediaType="application/json",
            contentSchema={"type": "object", "propertyNames": {"enum": list(PATH_NAMES)},
                           "additionalProperties": {"type": "string", "pattern": "^/"}},
        ),
        "ca_bundle": _text("CA bundle path", "Optional CA file for TLS verification.", maxLength=4096),
    }


# The standard fields the form shows (login, password, host, schema), checked like the extra ones when a
# connection is read; their labels are the form's (`relabeling` below is made from them).
STANDARD_FIELDS: dict[str, dict[str, dict]] = {
    OFFICE365_CONN_TYPE: {
        "login": {"label": "Application (client) ID (Anwendungs-ID)",
                  "schema": {"type": ["string", "null"], "pattern": GUID_PATTERN}},
        "password": {"label": "Client secret VALUE (Geheimer Clientschlüssel, Wert)",
                     "schema": {"type": ["string", "null"], "format": "password", "maxLength": 1024}},
    },
    OPENHANDWERK_CONN_TYPE: {
        "host": {"label": "API base URL", "schema": {"type": ["string", "null"], "pattern": HTTPS_PATTERN}},
        "schema": {"label": "Account ID (idKn)", "schema": {"type": ["string", "null"], "maxLength": 64}},
        "login": {"label": "API user (employee)", "schema": {"type": ["string", "null"], "maxLength": 255}},
        "password": {"label": "API password",
                     "schema": {"type": ["string", "null"], "format": "password", "maxLength": 1024}},
    },
}


# Read from the Extra JSON, checked like the others, but not in the form (kept from before 0.3; README).
EXTRA_ONLY_FIELDS: dict[str, dict[str, dict]] = {
    OFFICE365_CONN_TYPE: {},
    OPENHANDWERK_CONN_TYPE: {"request_timeout": _office365_fields()["request_timeout"]},
}


def _relabeling(conn_type: str) -> dict[str, str]:
    return {name: field["label"] for name, field in STANDARD_FIELDS[conn_type].items()}


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's ProvidersManager; the UI builds the form from it."""
    return {
        "package-name": "oh-outlook-provider",
        "name": "openHandwerk Outlook calendar sync",
        "description": "Keeps employees' Outlook calendars in step with openHandwerk appointments "
        "through Microsoft Graph (app-only, client credentials).",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Microsoft 365 (Graph)", "tags": ["service"]},
            {"integration-name": "openHandwerk", "tags": ["service"]},
        ],
        "hooks": [
            {
                "integration-name": "Microsoft 365 (Graph)",
                "python-modules": ["oh_outlook_provider.hooks.office365"],
            },
            {"integration-name": "openHandwerk", "python-modules": ["oh_outlook_provider.hooks.openhandwerk"]},
        ],
        "operators": [
            {
                "integration-name": "Microsoft 365 (Graph)",
                "python-modules": [
                    "oh_outlook_provider.operators.user_mapping",
                    "oh_outlook_provider.operators.calendar_sync",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Microsoft 365 (Graph)",
                "python-modules": ["oh_outlook_provider.sensors.secret_expiry"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Microsoft 365 (Graph)",
                "python-modules": ["oh_outlook_provider.triggers.secret_expiry"],
            }
        ],
        "connection-types": [
            {
                "connection-type": OFFICE365_CONN_TYPE,
                "hook-class-name": "oh_outlook_provider.hooks.office365.Office365Hook",
                "hook-name": "Office 365 (Microsoft Graph)",
                "conn-fields": _office365_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "port", "schema", "extra"],
                    "relabeling": _relabeling(OFFICE365_CONN_TYPE),
                    "placeholders": {
                        "login": "00000000-0000-0000-0000-000000000000",
                        "password": "the secret's Value column, not its Secret ID",
                        "tenant_id": "00000000-0000-0000-0000-000000000000",
                        "credential_valid_until": "2028-11-26",
                    },
                },
            },
            {
                "connection-type": OPENHANDWERK_CONN_TYPE,
                "hook-class-name": "oh_outlook_provider.hooks.openhandwerk.OpenHandwerkHook",
                "hook-name": "openHandwerk",
                "conn-fields": _openhandwerk_fields(),
                "ui-field-behaviour": {
                    # The account id sits in `schema`, not in an extra: Airflow hands every extra value to
                    # its secrets masker, which warns in each task log about values under 5 characters,
                    # and account numbers such as 4711 are that short.
                    "hidden-fields": ["port", "extra"],
                    "relabeling": _relabeling(OPENHANDWERK_CONN_TYPE),
                    "placeholders": {"host": "https://api.openhandwerk.de", "schema": "your customer number, e.g. 4711"},
                },
            },
        ],
    }
