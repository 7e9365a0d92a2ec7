"""The one redaction of the package: webhook keys, tokens and secret query values out of any text.

Every error path (transport, API errors, refresh failures, bulk errors, CLI stderr) and the transport
loggers go through :func:`redact` (``_core.redact`` is the same function). A leaf module: it imports
nothing of the package, so the error classes and the state backends use it without importing the core.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Iterable, Tuple
from urllib.parse import quote

__all__ = ["Redacting", "guard_loggers", "redact", "shown_store"]

_WEBHOOK_SECRET = re.compile(r"(/rest/\d+/)([^/?#\s]+)")
_ESCAPED_WEBHOOK = re.compile(r"(\\/rest\\/\d+\\/)([^\\/?#\s\"]+)")
_ENCODED_WEBHOOK = re.compile(r"(%2Frest%2F\d+%2F)((?:(?!%2F)[^/?#&\s\"])+)", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"\b(auth|client_secret|code|refresh_token|access_token|token)=[^&\s\"']+")


def redact(text: str, *secrets: str) -> str:
    """Remove the webhook key (the path segment after ``/rest/<user>/``), secret query values and ``secrets``."""
    cleaned = _WEBHOOK_SECRET.sub(r"\1***", text)
    cleaned = _ESCAPED_WEBHOOK.sub(r"\1***", cleaned)
    cleaned = _ENCODED_WEBHOOK.sub(r"\1***", cleaned)
    cleaned = _SECRET_QUERY.sub(r"\1=***", cleaned)
    for secret in secrets:
        if secret and len(secret) >= 4:
            for spelling in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], secret.replace("/", "\\/")}:
                cleaned = cleaned.replace(spelling, "***")
    return cleaned


def shown_store(spec: str) -> str:
    """A ``state`` value as it may be shown: a password in a Redis URL (user info or query) is ``***``."""
    text = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", spec)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", text)


def _url_secrets(url: str) -> Tuple[str, ...]:
    """The webhook key in a URL's path and secret query values: also hidden in their other spellings."""
    found = [match.group(2) for match in _WEBHOOK_SECRET.finditer(url.split("?", 1)[0])]
    found += [match.group(0).split("=", 1)[1] for match in _SECRET_QUERY.finditer(url.partition("?")[2])]
    return tuple(secret for secret in found if len(secret) >= 4)


class Redacting(logging.Filter):
    """Keep webhook keys and tokens out of every record of a logger (message and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None
        return True


def guard_loggers(names: Iterable[str], prefixes: Tuple[str, ...]) -> None:
    """Put the :class:`Redacting` filter on the named loggers and on every existing logger under ``prefixes``.

    A logger's filter does not see the records of its children, so each one gets its own (once). Both
    drivers call this for their HTTP library's loggers and the package's own.
    """
    wanted = set(names)
    wanted.update(name for name in list(logging.Logger.manager.loggerDict) if name.split(".", 1)[0] in prefixes)
    for name in sorted(wanted):
        logger = logging.getLogger(name)
        if not any(isinstance(item, Redacting) for item in logger.filters):
            logger.addFilter(Redacting())
