"""Exceptions raised by opi_bitrix24.

Bitrix24 API errors are *not* exceptions: like OPI, every function returns the portal's JSON body,
``{"error": "expired_token", ...}`` included. Exceptions are raised only for local misuse and for
transport failures::

    OPIError
     ├── InvalidArgument (also a ValueError)   bad input; raised before anything is sent
     ├── TransportError                        no usable HTTP answer (connection, TLS, timeout)
     └── UnexpectedResponse                    an answer that is not a JSON object

No message ever contains the webhook key or the token.
"""

from __future__ import annotations

__all__ = [
    "AnswerTooLarge",
    "DeadlineExceeded",
    "InvalidArgument",
    "OPIError",
    "RedirectRefused",
    "TransportError",
    "UnexpectedResponse",
]


class OPIError(Exception):
    """Base class of every exception raised by opi_bitrix24."""


class InvalidArgument(OPIError, ValueError):
    """An argument cannot be turned into a request; nothing was sent.

    ``parameter`` is the Python name of the parameter at fault (``"user_ids"``).
    """

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class TransportError(OPIError):
    """The request could not be completed (after the retries the settings allow)."""


class UnexpectedResponse(OPIError):
    """The portal answered with something that is not a JSON object.

    ``status`` is the HTTP status code, ``snippet`` the start of the body with secrets removed.
    """

    def __init__(self, status: int, snippet: str, reason: str = "the answer is not JSON") -> None:
        self.status = status
        self.snippet = snippet
        super().__init__(f"HTTP {status}: {reason}: {snippet!r}")


class DeadlineExceeded(TransportError):
    """The whole call (connect, send, every byte of the answer, retries and waits) took longer than ``deadline``."""


class RedirectRefused(TransportError):
    """The portal redirected where the request may not follow: another origin, or any redirect of a write.

    ``location`` is the new origin (``scheme://host[:port]``, no path, no secret); nothing was sent there.
    """

    def __init__(self, message: str, location: str) -> None:
        self.location = location
        super().__init__(message)


class AnswerTooLarge(UnexpectedResponse):
    """The decoded answer is larger than ``max_answer_bytes``; reading stopped at the cap."""
