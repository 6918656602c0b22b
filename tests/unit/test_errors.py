"""The deprecated `oh_outlook_provider.errors`: warns on import, still exposes what 0.1/0.2 DAGs import."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from oh_outlook_provider import exceptions
from oh_outlook_provider.graph import errors as graph_errors


def _import_fresh():
    sys.modules.pop("oh_outlook_provider.errors", None)
    return importlib.import_module("oh_outlook_provider.errors")


def test_importing_it_warns_and_names_the_new_module():
    with pytest.warns(DeprecationWarning, match="import the exceptions from oh_outlook_provider.exceptions"):
        _import_fresh()


def test_it_still_exposes_the_same_classes_and_functions():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = _import_fresh()
    for name in exceptions.__all__:
        assert getattr(old, name) is getattr(exceptions, name)
    assert old.translate_graph_error is graph_errors.translate_graph_error
    assert old.translate_token_error is graph_errors.translate_token_error
    assert old.permission_for is graph_errors.permission_for and old.APP_NAME == graph_errors.APP_NAME
    assert set(old.__all__) == {*exceptions.__all__, "APP_NAME", "permission_for", "translate_graph_error",
                                "translate_token_error"}


def test_an_old_style_except_clause_still_catches_the_new_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = _import_fresh()
    with pytest.raises(old.GraphError):
        raise exceptions.PermissionMissingError("refused", 403)
