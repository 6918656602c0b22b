"""Provider metadata read by Airflow's ProvidersManager (entry point `apache_airflow_provider`).

As in Airflow's own providers, this file declares the hooks, operators, sensors, triggers and the
connection types; the UI builds each connection form from `conn-fields` (a JSON schema per field)
and `ui-field-behaviour`. Cheap to import: no msal, no requests.
"""

from __future__ import annotations

from oh_outlook_provider import __version__

OFFICE365_CONN_TYPE = "office365"
OPENHANDWERK_CONN_TYPE = "openhandwerk"


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
            format="password",
        ),
        "certificate_thumbprint": _text(
            "Certificate thumbprint",
            "SHA-1 thumbprint shown beside the uploaded certificate.",
        ),
        "calendar_name": _text(
            "Target calendar name",
            "Empty = each user's default calendar. A named calendar is created when missing.",
        ),
        "authority_url": _text(
            "Authority URL override",
            "Only for the sandbox or a proxy, e.g. https://127.0.0.1:8443. Empty = by national cloud.",
        ),
        "graph_url": _text(
            "Graph base URL override",
            "Only for the sandbox or a proxy. Empty = by national cloud.",
        ),
        "ca_bundle": _text(
            "CA bundle path",
            "Optional path to a CA file for TLS verification (the sandbox prints it).",
        ),
        "request_timeout": {
            "label": "Request timeout (seconds)",
            "description": "Read timeout per HTTP request to Microsoft.",
            "schema": {"type": ["integer", "null"], "default": 60},
        },
    }


def _openhandwerk_fields() -> dict:
    return {
        "timezone": _text(
            "Appointment time zone", "Zone of openHandwerk's wall-clock times.", default="Europe/Berlin"
        ),
        "page_size": {
            "label": "Page size",
            "description": "Records per request when listing employees and appointments.",
            "schema": {"type": ["integer", "null"], "default": 200},
        },
        "web_url": _text(
            "Web app URL for links",
            "Optional: base URL of the openHandwerk web app; events then link back to it.",
        ),
        "paths": _text(
            "Path overrides (JSON)",
            'Optional, e.g. {"appointments": "/termine"}; see the README for the keys.',
        ),
        "ca_bundle": _text("CA bundle path", "Optional CA file for TLS verification."),
    }


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
                    "relabeling": {
                        "login": "Application (client) ID (Anwendungs-ID)",
                        "password": "Client secret VALUE (Geheimer Clientschlüssel, Wert)",
                    },
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
                    "relabeling": {
                        "schema": "Account ID (idKn)",
                        "host": "API base URL",
                        "login": "API user (employee)",
                        "password": "API password",
                    },
                    "placeholders": {"host": "https://api.openhandwerk.de", "schema": "your customer number, e.g. 4711"},
                },
            },
        ],
    }
