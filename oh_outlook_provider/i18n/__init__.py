"""The language the admin reads: gettext catalogs in `locale/`, one setting, English always there.

`from oh_outlook_provider.i18n import _` marks a message for Babel's extraction and translates it
when the message is built (so a changed setting counts from the next message on).
"""

from oh_outlook_provider.i18n.language import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    _,
    carried,
    current_language,
    pgettext,
    speaking,
    translator,
)

__all__ = ["_", "pgettext", "carried", "current_language", "speaking", "translator", "DEFAULT_LANGUAGE", "LANGUAGES"]
