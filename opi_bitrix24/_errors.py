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

from typing import Any, Dict, Iterable, Optional, Tuple

__all__ = [
    "APIError",
    "AccessDenied",
    "AnswerTooLarge",
    "DeadlineExceeded",
    "ExpiredToken",
    "InsufficientScope",
    "InternalServerError",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidToken",
    "MethodNotFound",
    "NotFound",
    "OPIError",
    "OperationTimeLimit",
    "QueryLimitExceeded",
    "RedirectRefused",
    "RefreshFailed",
    "StateUnavailable",
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


# --- API errors (opt-in: ``settings(raise_api_errors=True)``; batch/iterate always raise) ----------


class APIError(OPIError):
    """The portal answered with an error body (``{"error": ..., "error_description": ...}``).

    Raised only when ``raise_api_errors=True`` (and by :func:`batch` / :func:`iterate`, which never
    return a partial result). ``status`` is the HTTP status, ``method`` the REST method, ``error`` and
    ``error_description`` the portal's fields, ``body`` the whole parsed answer.

    No secret is included: every text of the body (keys and values, at any depth) goes through the
    transport's redaction (``_core.redact``) with ``secrets`` — the call's token, webhook key and OAuth
    secrets — in their raw, JSON-escaped and percent-encoded spellings, and webhook paths and secret query
    values are masked whatever they hold. The message, ``repr`` and ``body`` are built from the redacted body.
    """

    code = ""

    def __init__(self, status: int, method: str, body: Dict[str, Any], secrets: Iterable[str] = ()) -> None:
        hidden = tuple(s for s in secrets if isinstance(s, str) and s)
        self.status = status
        self.method = _scrub(method, hidden)
        self.body = _scrub_body(body, hidden)
        self.error = str(self.body.get("error", ""))
        self.error_description = str(self.body.get("error_description", ""))
        text = f"{self.method}: HTTP {status} {self.error}"
        if self.error_description:
            text += f": {self.error_description}"
        super().__init__(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, body={self.body!r})"


def _scrub(value: Any, secrets: Tuple[str, ...]) -> Any:
    """``value`` with every text in it redacted (dict keys too); other values unchanged."""
    from ._redact import redact

    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, secrets) for item in value]
    return value


def _scrub_body(body: Any, secrets: Tuple[str, ...]) -> Dict[str, Any]:
    try:
        cleaned = _scrub(body, secrets)
    except RecursionError:  # a body nested too deeply to walk: keep only its error fields
        cleaned = _scrub({k: str(body.get(k, "")) for k in ("error", "error_description")}, secrets)
    return cleaned if isinstance(cleaned, dict) else {}


class QueryLimitExceeded(APIError):
    """503 ``QUERY_LIMIT_EXCEEDED``: the request-intensity limit (after the allowed retries)."""

    code = "QUERY_LIMIT_EXCEEDED"


class OperationTimeLimit(APIError):
    """429 ``OPERATION_TIME_LIMIT``: the method is blocked until ``reset_at`` (Unix time, if known)."""

    code = "OPERATION_TIME_LIMIT"
    reset_at: Optional[float] = None


class ExpiredToken(APIError):
    """401 ``expired_token``: the access token has expired (configure ``oauth_app`` to refresh)."""

    code = "expired_token"


class InvalidToken(APIError):
    """401 ``invalid_token``: the token is not valid."""

    code = "invalid_token"


class InsufficientScope(APIError):
    """403 ``insufficient_scope``: the app or webhook lacks the method's scope."""

    code = "insufficient_scope"


class MethodNotFound(APIError):
    """404 ``ERROR_METHOD_NOT_FOUND``: no such REST method."""

    code = "ERROR_METHOD_NOT_FOUND"


class AccessDenied(APIError):
    """403 ``ACCESS_DENIED``: the user may not do this."""

    code = "ACCESS_DENIED"


class NotFound(APIError):
    """404 ``NOT_FOUND``: the object does not exist."""

    code = "NOT_FOUND"


class InvalidRequest(APIError):
    """400 ``INVALID_REQUEST`` / ``ERROR_ARGUMENT`` / ``INVALID_ARG_VALUE``: the parameters are wrong."""

    code = "INVALID_REQUEST"


class InternalServerError(APIError):
    """500 ``INTERNAL_SERVER_ERROR`` / ``ERROR_UNEXPECTED_ANSWER``."""

    code = "INTERNAL_SERVER_ERROR"


class RefreshFailed(APIError):
    """The OAuth refresh after ``expired_token`` failed.

    ``status`` is the token endpoint's HTTP status (0 when it gave no HTTP answer at all), ``method`` is
    ``"oauth/token"``, ``body`` holds only the endpoint's ``error`` and ``error_description`` (redacted: the
    client secret, the refresh token and the access tokens never appear). A garbage, HTML or incomplete
    answer (no new access token and refresh token) is a ``RefreshFailed`` too, with ``error``
    ``"refresh_failed"``. Threads that were waiting for the same refresh get the same failure without
    asking the endpoint again.
    """

    code = "refresh_failed"


API_ERRORS = {
    cls.code: cls
    for cls in (
        QueryLimitExceeded,
        OperationTimeLimit,
        ExpiredToken,
        InvalidToken,
        InsufficientScope,
        MethodNotFound,
        AccessDenied,
        NotFound,
        InvalidRequest,
        InternalServerError,
    )
}
API_ERRORS.update(
    {
        "ERROR_ARGUMENT": InvalidRequest,
        "INVALID_ARG_VALUE": InvalidRequest,
        "ERROR_UNEXPECTED_ANSWER": InternalServerError,
        "NO_AUTH_FOUND": InvalidToken,
        "WRONG_AUTH_TYPE": InvalidToken,
        "ERROR_CORE": InternalServerError,
    }
)


def api_error(status: int, method: str, body: Dict[str, Any], secrets: Iterable[str] = ()) -> APIError:
    """The :class:`APIError` subclass for the body's ``error`` code (plain APIError if unknown), redacted."""
    cls = API_ERRORS.get(str(body.get("error", "")), APIError)
    return cls(status, method, body, secrets)


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


class StateUnavailable(OPIError):
    """The shared state store (the ``state`` setting: SQLite or Redis) cannot be used.

    Raised before the request is sent (there is no fallback to per-process state). ``store`` names the
    store without its password; the message says why.
    """

    def __init__(self, message: str, store: str) -> None:
        self.store = store
        super().__init__(message)
