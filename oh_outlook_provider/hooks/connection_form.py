"""The connection form for Airflow 3.0 to 3.2, generated from the declarative one in get_provider_info.py.

Airflow 3.3 builds the form from `conn-fields` and `ui-field-behaviour` in the provider info.
Older 3.x UIs ask the hook class instead: `get_connection_form_widgets()` (WTForms fields, which
the api-server turns into the same JSON schema with its mocked FAB classes) and
`get_ui_field_behaviour()` (ProvidersManager._import_hook; HookMetaService in
airflow/api_fastapi/core_api/services/ui/connections.py of each line). Both are generated here
from the one declaration, so the forms cannot drift apart; the WTForms/Flask imports stay inside
the functions, and the hooks define the methods only below 3.3, so 3.3 never imports them.
"""

from __future__ import annotations

from typing import Any


def _connection_type(conn_type: str) -> dict[str, Any]:
    from oh_outlook_provider.get_provider_info import get_provider_info

    return next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type)


def form_widgets(conn_type: str) -> dict[str, Any]:
    """`{field name: WTForms field}` for the hook's `get_connection_form_widgets` (Airflow < 3.3).

    Each `conn-fields` entry becomes a StringField, IntegerField or PasswordField (JSON schema
    type and `format: password`), with its label, description, default, and `any_of` for an enum.
    A `number` (the request timeout) is an IntegerField too: the api-server of 3.0-3.2 mocks no
    FloatField, and a StringField's numeric default would not pass its `string` type (the form would
    show it empty); whole seconds in that form, a fraction through the Extra JSON. The other bounds
    (minimum, maximum, pattern, format) are not form validators there (the React form reads only type,
    format and enum from these fields); every value is checked when the connection is read
    (connection_values.py), whichever way it was stored.
    """
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, field in _connection_type(conn_type)["conn-fields"].items():
        schema = field.get("schema", {})
        kinds = schema.get("type", "string")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        validators: list[Any] = [Optional()]
        if schema.get("enum"):
            validators.append(any_of(schema["enum"]))
        if schema.get("format") == "password":
            kind, widget = PasswordField, BS3PasswordFieldWidget()
        elif "integer" in kinds or "number" in kinds:
            kind, widget = IntegerField, BS3TextFieldWidget()
        else:
            kind, widget = StringField, BS3TextFieldWidget()
        widgets[name] = kind(lazy_gettext(field["label"]), validators=validators, description=field.get("description", ""),
                             default=schema.get("default"), widget=widget)
    return widgets


def field_behaviour(conn_type: str) -> dict[str, Any]:
    """`{"hidden_fields", "relabeling", "placeholders"}` for the hook's `get_ui_field_behaviour`
    (Airflow < 3.3), from the provider info's `ui-field-behaviour` (kebab-case keys there)."""
    behaviour = _connection_type(conn_type)["ui-field-behaviour"]
    return {"hidden_fields": list(behaviour.get("hidden-fields", [])),
            "relabeling": dict(behaviour.get("relabeling", {})),
            "placeholders": dict(behaviour.get("placeholders", {}))}


def legacy_form(hook_class: type) -> type:
    """Class decorator: below Airflow 3.3, give the hook `get_connection_form_widgets` and
    `get_ui_field_behaviour` in its own `__dict__` (where ProvidersManager looks), by `conn_type`."""
    from oh_outlook_provider.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:
        hook_class.get_connection_form_widgets = classmethod(lambda cls: form_widgets(cls.conn_type))
        hook_class.get_ui_field_behaviour = classmethod(lambda cls: field_behaviour(cls.conn_type))
    return hook_class
