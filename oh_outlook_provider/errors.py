"""Deprecated since 0.3: the exceptions moved to `oh_outlook_provider.exceptions`, the wording of
Entra's and Graph's answers to `oh_outlook_provider.graph.errors`. Kept for DAGs written against
0.1/0.2; removed in 0.4."""

from __future__ import annotations

import warnings

from oh_outlook_provider.exceptions import *  # noqa: F403 - the old module's names, for one release
from oh_outlook_provider.exceptions import __all__ as _exceptions
from oh_outlook_provider.graph.errors import APP_NAME, permission_for, translate_graph_error, translate_token_error

__all__ = [*_exceptions, "APP_NAME", "permission_for", "translate_graph_error", "translate_token_error"]

warnings.warn("oh_outlook_provider.errors is deprecated: import the exceptions from oh_outlook_provider.exceptions",
              DeprecationWarning, stacklevel=2)
