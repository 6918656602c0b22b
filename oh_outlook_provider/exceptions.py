"""The provider's exceptions: one hierarchy, what DAG authors catch by name.

Every message says what failed, why, and the exact fix; the wording of Microsoft's answers lives in
`graph/errors.py`, beside the Graph paths whose permissions it names. Nothing here may ever include
a secret or token.
"""

from __future__ import annotations

__all__ = [
    "OhOutlookError",
    "ConfigurationError",
    "AuthenticationError",
    "SecretExpiredError",
    "GraphError",
    "PermissionMissingError",
    "MailboxAccessDeniedError",
    "MailboxNotEnabledError",
    "NotFoundError",
    "ThrottledError",
    "OpenHandwerkError",
    "GraphIdError",
]


class OhOutlookError(Exception):
    """Base class of every error this provider raises on purpose."""

    permanent = True  # retrying the same call will not help


class ConfigurationError(OhOutlookError):
    """A connection or operator argument is missing or malformed."""


class AuthenticationError(OhOutlookError):
    """Entra ID refused to issue a token."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class SecretExpiredError(AuthenticationError):
    """AADSTS7000222: the client secret is past its expiry date."""


class GraphError(OhOutlookError):
    """A Microsoft Graph call failed; carries status and Graph's error code."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.permanent = status is None or status < 500 and status not in (408, 429)


class PermissionMissingError(GraphError):
    """403 Authorization_RequestDenied: an application permission lacks admin consent."""


class MailboxAccessDeniedError(GraphError):
    """403 ErrorAccessDenied for one mailbox: an application access policy excludes it."""


class MailboxNotEnabledError(GraphError):
    """The user has no Exchange Online mailbox (MailboxNotEnabledForRESTAPI)."""


class NotFoundError(GraphError):
    """404 for a single resource."""


class ThrottledError(GraphError):
    """Retries and the wait budget ran out while Graph kept throttling."""


class OpenHandwerkError(OhOutlookError):
    """openHandwerk answered with an error (HTTP or envelope)."""

    def __init__(self, message: str, status: int | None = None, enveloped: bool = False):
        super().__init__(message)
        self.status = status
        self.enveloped = enveloped  # the API itself answered (its envelope), not a proxy or a wrong path
        self.permanent = status is not None and status < 500 and status != 429


class GraphIdError(OhOutlookError):
    """An id that Graph would never issue: refused before any request is made."""
