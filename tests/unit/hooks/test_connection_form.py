"""The form for Airflow 3.0-3.2 is generated from the declarative one: the same fields, labels, types,
defaults and choices, and the same hidden/relabelled standard fields; 3.3 never gets the methods."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest

from oh_outlook_provider.get_provider_info import get_provider_info
from oh_outlook_provider.hooks import connection_form
from oh_outlook_provider.hooks.connection_form import field_behaviour, form_widgets, legacy_form


class Field:
    def __init__(self, label, validators=(), description="", default=None, widget=None):
        self.label, self.validators, self.description, self.default = label, list(validators), description, default


class StringField(Field):
    pass


class IntegerField(Field):
    pass


class PasswordField(Field):
    pass


@pytest.fixture
def fake_wtforms(monkeypatch):
    """WTForms, Flask-Babel and FAB widgets as Airflow's api-server mocks them (HookMetaService)."""
    modules = {
        "wtforms": SimpleNamespace(StringField=StringField, IntegerField=IntegerField, PasswordField=PasswordField),
        "wtforms.validators": SimpleNamespace(Optional=lambda: "optional", any_of=lambda values: ("any_of", tuple(values))),
        "flask_babel": SimpleNamespace(lazy_gettext=lambda text: text),
        "flask_appbuilder": ModuleType("flask_appbuilder"),
        "flask_appbuilder.fieldwidgets": SimpleNamespace(BS3TextFieldWidget=object, BS3PasswordFieldWidget=object),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("conn_type", ["office365", "openhandwerk"])
def test_every_declared_field_becomes_a_widget_with_its_label_type_default_and_choices(fake_wtforms, conn_type):
    declared = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type)
    widgets = form_widgets(conn_type)
    assert list(widgets) == list(declared["conn-fields"])
    for name, field in declared["conn-fields"].items():
        widget, schema = widgets[name], field["schema"]
        assert widget.label == field["label"] and widget.description == field["description"]
        assert widget.default == schema.get("default") and "optional" in widget.validators
        expected = PasswordField if schema.get("format") == "password" else \
            IntegerField if {"integer", "number"} & set(schema["type"]) else StringField
        assert type(widget) is expected, name
        if schema.get("enum"):
            assert ("any_of", tuple(schema["enum"])) in widget.validators


def test_the_standard_fields_behave_as_declared():
    behaviour = field_behaviour("office365")
    assert behaviour["hidden_fields"] == ["host", "port", "schema", "extra"]
    assert behaviour["relabeling"]["login"] == "Application (client) ID (Anwendungs-ID)"
    assert field_behaviour("openhandwerk")["relabeling"]["schema"] == "Account ID (idKn)"


@pytest.mark.parametrize(("is_3_3", "gets_methods"), [(True, False), (False, True)])
def test_only_lines_before_3_3_get_the_python_form(monkeypatch, is_3_3, gets_methods):
    from oh_outlook_provider import version_compat

    monkeypatch.setattr(version_compat, "AIRFLOW_V_3_3_PLUS", is_3_3)

    @legacy_form
    class Hook:
        conn_type = "openhandwerk"

    assert ("get_connection_form_widgets" in Hook.__dict__) is gets_methods  # ProvidersManager looks there
    assert ("get_ui_field_behaviour" in Hook.__dict__) is gets_methods
    if gets_methods:
        assert Hook.get_ui_field_behaviour() == connection_form.field_behaviour("openhandwerk")


def test_a_number_field_is_an_integer_field_before_3_3_with_its_default(fake_wtforms):
    """3.0-3.2's api-server mocks no FloatField, and a text field's default 60 would fail its `string` type
    (the form would show it empty): the request timeout is whole seconds there, checked when read."""
    timeout = form_widgets("office365")["request_timeout"]
    assert type(timeout) is IntegerField and timeout.default == 60
    assert type(form_widgets("openhandwerk")["page_size"]) is IntegerField
