"""The request core: one small path from an OPI-style call to the portal and back.

``post()`` / ``get()`` take the REST method, the URL (webhook or portal address), the token and the
already-converted fields (``SKIP`` values are dropped), build the request the way OPI's ``NormalizeAuth``
does, send it with the current :class:`Settings` and return the parsed JSON object, error bodies
included. ``requests`` is imported on first use, so importing the package stays cheap.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import datetime
import decimal
import json
import logging
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union
from urllib.parse import quote

from . import _convert, _deadline, _redact, _stream
from ._convert import SKIP
from ._errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    InvalidArgument,
    OPIError,
    RedirectRefused,
    TransportError,
    UnexpectedResponse,
)
from ._redact import redact
from ._settings import Result, Settings, Timeout, configure, current_settings, settings
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ._settings import SettingsChanges as SettingsChanges  # noqa: PLC0414 - re-exported for type checkers

__all__ = [
    "Settings",
    "configure",
    "current_settings",
    "endpoint_url",
    "fetch",
    "get",
    "oauth",
    "post",
    "post_fields",
    "redact",
    "settings",
    "upload",
]

log = logging.getLogger("opi_bitrix24")

#: The redaction lives in its own leaf module (:mod:`._redact`); the core and its callers use these names.
_url_secrets = _redact._url_secrets

# --- URL and auth normalisation (OPI NormalizeAuth) ------------------------------------------------

_SCHEME = re.compile(r"^(https?)://", re.IGNORECASE)
_WEBHOOK_PATH = re.compile(r"/rest/\d+/[^/]+/")


def endpoint_url(url: Any, token: Any, api_method: str) -> Tuple[str, Dict[str, Any]]:
    """Build ``(full URL, first parameters)`` as OPI's NormalizeAuth does.

    Webhook mode (no token): ``<webhook>/<method>``, no parameters. Token mode: ``<portal>/rest/<method>``
    with ``auth`` as the first parameter. Deliberate deviations from OPI: an explicit ``http://`` is
    kept (OPI always uses HTTPS), the scheme is matched case-insensitively, only a leading ``www.`` of
    the host is dropped (OPI deletes ``www.`` anywhere), and a token given together with a webhook URL
    is refused instead of producing ``.../rest/1/key/rest/<method>``.
    """
    address = "" if url is None else str(url).strip()
    if not address:
        raise InvalidArgument("url", "a webhook URL or a portal address is required")
    token_text = "" if token is None or token is SKIP else str(token)
    match = _SCHEME.match(address)
    scheme = match.group(1).lower() if match else "https"
    rest = address[match.end() :] if match else address
    if rest.lower().startswith("www."):
        rest = rest[4:]
    host = rest.split("/", 1)[0]
    if not host or any(char.isspace() for char in host) or "@" in host:
        raise InvalidArgument("url", "is not a webhook URL or a portal address")
    if not rest.endswith("/"):
        rest += "/"
    params: Dict[str, Any] = {}
    if token_text.strip():
        if _WEBHOOK_PATH.search("/" + rest.split("/", 1)[1] if "/" in rest else ""):
            raise InvalidArgument("token", "give either a webhook URL or a portal address with a token, not both")
        if not rest.endswith("rest/"):
            rest += "rest/"
        params["auth"] = token_text
    return f"{scheme}://{rest}{api_method.strip()}", params


# --- wire encoding --------------------------------------------------------------------------------

_UNRESERVED = "-._~"
_URL_IN_URL = "/%?+=!#$'()*,:;@[]"


def _query_value(value: Any) -> str:
    """OPI's query-string value encoding (OneScript EncodeString: UTF-8, upper-case hex, space = %20)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        inner = ",".join(_query_value(item) for item in value)
        return "[" + quote(inner, safe=_UNRESERVED + _URL_IN_URL) + "]"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return quote(str(value), safe=_UNRESERVED)


def _query_string(params: Mapping[str, Any]) -> str:
    return "&".join(f"{key}={_query_value(value)}" for key, value in params.items())


def _fields(params: Dict[str, Any], fields: Mapping[str, Any]) -> Dict[str, Any]:
    for key, value in fields.items():
        if value is not SKIP:
            params[key] = value
    return params


# --- transport ------------------------------------------------------------------------------------

_default_session: Optional[requests.Session] = None
_session_lock = threading.Lock()
_guarded = False


class _Redacting(logging.Filter):
    """Keep webhook keys and tokens out of every record of the transport loggers (message and traceback)."""

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


_TRANSPORT_LOGGERS = (
    "opi_bitrix24",
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.util.ssl_",
)


def _guard_transport_logs() -> None:
    """Put the redacting filter on every urllib3/requests logger (a logger filter does not see child records)."""
    global _guarded
    if _guarded:
        return
    names = set(_TRANSPORT_LOGGERS)
    names.update(
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.split(".", 1)[0] in ("urllib3", "requests", "opi_bitrix24")
    )
    for name in sorted(names):
        logger = logging.getLogger(name)
        if not any(isinstance(item, _Redacting) for item in logger.filters):
            logger.addFilter(_Redacting())
    _guarded = True


def _session(config: Settings) -> requests.Session:
    global _default_session
    from . import _http

    if config.session is not None:
        _http.instrument(config.session)
        return config.session
    with _session_lock:
        if _default_session is None:
            _default_session = _http.PortalSession()
            _default_session.headers["User-Agent"] = f"opi-bitrix24/{_version()}"
        return _default_session


def _version() -> str:
    return __version__


def _connect_failure(exc: BaseException) -> bool:
    """True when the request certainly never left: refused, unresolved host, connect timeout."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError) or not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


_DIGITS = re.compile(r"[0-9]{1,9}")


def _backoff(config: Settings, attempt: int, retry_after: Optional[str] = None) -> float:
    import random

    delay = min(config.max_backoff, config.backoff * (2**attempt))
    if delay:
        delay *= 0.5 + random.random() / 2
    # Only plain ASCII seconds count; dates, "²", negative or huge values are ignored.
    if retry_after and _DIGITS.fullmatch(retry_after.strip()):
        delay = max(delay, min(float(retry_after.strip()), config.max_backoff))
    return float(delay)


def _wait(config: Settings, attempt: int, retry_after: Optional[str] = None) -> None:
    delay = _backoff(config, attempt, retry_after)
    if delay > 0:
        time.sleep(delay)


def _query_limited(response: requests.Response) -> bool:
    if response.status_code == 503:
        return True
    if response.status_code < 400 or b"QUERY_LIMIT_EXCEEDED" not in response.content[:512]:
        return False
    try:
        return bool(json.loads(response.content).get("error") == "QUERY_LIMIT_EXCEEDED")
    except (ValueError, AttributeError, RecursionError):
        return False


_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_CHUNK = 65536


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _shown_origin(url: str) -> str:
    scheme, host, port = _origin(url)
    default = {"http": 80, "https": 443}.get(scheme)
    text = f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")
    return redact(text)[:200]


def _socket_of(response: Any) -> Any:
    raw = getattr(response, "raw", None)
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        fp = getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None)
        sock = getattr(fp, "_sock", None)
    return sock


class _Attempt:
    """One request and its whole answer, read in the calling thread (the watchdog bounds it by the deadline)."""

    __slots__ = ("content", "cut", "error", "response")

    def __init__(self) -> None:
        self.response: Optional[requests.Response] = None
        self.content: Optional[bytes] = None
        self.error: Optional[BaseException] = None
        self.cut = False


def _timeouts(config: Settings, remaining: Optional[float]) -> Timeout:
    connect, read = config.timeout if isinstance(config.timeout, tuple) else (config.timeout, config.timeout)
    if remaining is None:
        return (connect, read)
    return (min(connect, max(remaining, 0.001)), min(read, max(remaining, 0.001)))


def _attempt(
    session: requests.Session,
    verb: str,
    url: str,
    body: Any,
    headers: Mapping[str, str],
    config: Settings,
    remaining: Optional[float],
    state: _Attempt,
    watch: Optional[_deadline.Watch],
) -> None:
    try:
        response = session.request(
            verb,
            url,
            data=body,
            headers=dict(headers),
            timeout=_timeouts(config, remaining),
            verify=config.verify,
            proxies=dict(config.proxies) if config.proxies else None,
            stream=True,
            allow_redirects=False,
        )
        state.response = response
        if watch is not None:
            watch.response = response
        if response.status_code in _REDIRECTS and response.headers.get("Location"):
            state.content = b""  # followed or refused: its body is never needed, so never read
            response._content = b""
            response._content_consumed = True  # type: ignore[attr-defined]
            response.raw.close()  # the connection is dropped, not reused with an unread body
            response.close()
            return
        cap = config.max_answer_bytes
        chunks = []
        size = 0
        for chunk in response.raw.stream(_CHUNK, decode_content=True):
            size += len(chunk)
            if cap is not None and size > cap:
                state.content = None
                state.error = AnswerTooLarge(response.status_code, "", f"the answer is larger than {cap} bytes")
                response.close()
                return
            chunks.append(chunk)
        state.content = b"".join(chunks)
        headers_in = response.headers
        state.cut = (
            not state.content
            and "content-length" not in headers_in
            and "chunked" not in headers_in.get("transfer-encoding", "").lower()
            and response.status_code not in (204, 304)
        )
        response._content = state.content
        response._content_consumed = True  # type: ignore[attr-defined]
        response.close()
    except Exception as exc:  # noqa: BLE001 - judged by the attempt loop
        state.error = exc


def _read_failure(exc: BaseException) -> bool:
    import http.client

    import requests
    import urllib3.exceptions

    return isinstance(
        exc, (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
    )


def _send(
    verb: str,
    url: str,
    body: Any,
    secrets: Tuple[str, ...],
    content_type: str = "application/json; charset=utf-8",
) -> requests.Response:
    """Send one request under the current settings and return the response with its whole body read.

    ``body`` is ``None``, ``bytes`` or a re-iterable object of byte chunks with an exact ``len()``. The
    call's ``deadline`` covers connecting, sending, every byte of the answer, retries and their waits;
    ``max_answer_bytes`` bounds the decoded answer while it is read; redirects are never followed to
    another origin and never for a write. Every exception is raised without cause or context.
    """
    config = current_settings()
    with _deadline.scope(config.deadline):
        return _send_within(config, verb, url, body, secrets, content_type)


def _send_within(
    config: Settings, verb: str, url: str, body: Any, secrets: Tuple[str, ...], content_type: str
) -> requests.Response:
    session = _session(config)
    _guard_transport_logs()
    secrets = tuple(s for s in secrets if s) + _url_secrets(url)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
        if not isinstance(body, (bytes, bytearray)) and hasattr(body, "__len__"):
            headers["Content-Length"] = str(len(body))
    shown = redact(url.split("?", 1)[0], *secrets)
    deadline = _deadline.at()
    limit = _deadline.seconds()
    attempt = 0
    redirects = 0
    failure: Optional[OPIError] = None
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            failure = DeadlineExceeded(f"{verb} {shown}: no complete answer within the deadline of {limit:g} s")
            break
        log.debug("%s %s (attempt %d)", verb, shown, attempt + 1)
        state = _Attempt()
        if deadline is None:  # no deadline: the per-read timeouts bound each read
            _attempt(session, verb, url, body, headers, config, remaining, state, None)
            late = False
        else:  # socket timeouts capped by what is left; the watchdog stops a read that outlives the deadline
            with _deadline.watching(deadline) as watch:
                _attempt(session, verb, url, body, headers, config, remaining, state, watch)
            late = watch.fired or (state.error is not None and time.monotonic() >= deadline)
        if late:
            if state.response is not None:
                state.response.close()
            failure = DeadlineExceeded(f"{verb} {shown}: no complete answer within the deadline of {limit:g} s")
            break
        error = state.error
        if isinstance(error, OPIError):
            failure = error
            break
        if error is not None:
            if not _read_failure(error):
                raise error
            retry = verb == "GET" or (state.response is None and _connect_failure(error))
            if retry and attempt < config.retries:
                delay = _backoff(config, attempt)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    failure = TransportError(f"{verb} {shown} failed: {_describe(error, secrets)}")
                    break
                time.sleep(delay)
                attempt += 1
                continue
            failure = TransportError(f"{verb} {shown} failed: {_describe(error, secrets)}")
            break
        response = state.response
        assert response is not None
        status = response.status_code
        log.debug("%s %s answered HTTP %d", verb, shown, status)
        if 100 <= status < 200:
            failure = UnexpectedResponse(status, "", "an interim (1xx) answer came instead of the final answer")
            break
        if status in _REDIRECTS and response.headers.get("Location"):
            from urllib.parse import urljoin

            target = urljoin(url, response.headers["Location"].strip())
            if verb != "GET" or _origin(target) != _origin(url) or redirects >= _MAX_REDIRECTS:
                why = (
                    "too many redirects"
                    if redirects >= _MAX_REDIRECTS and _origin(target) == _origin(url)
                    else f"the portal redirects to {_shown_origin(target)}"
                )
                failure = RedirectRefused(
                    f"{verb} {shown}: {why} (HTTP {status}); nothing was sent there. "
                    "If the portal has moved, use its new address.",
                    _shown_origin(target),
                )
                break
            url = target
            secrets = secrets + _url_secrets(url)
            shown = redact(url.split("?", 1)[0], *secrets)
            redirects += 1
            continue
        if state.cut:
            failure = TransportError(f"{verb} {shown} failed: the connection closed before the answer was complete")
            break
        if _query_limited(response) and attempt < config.retries:
            delay = _backoff(config, attempt, response.headers.get("Retry-After"))
            if deadline is None or time.monotonic() + delay < deadline:
                log.debug("retrying after HTTP %d", status)
                time.sleep(delay)
                attempt += 1
                continue
        response._opi_secrets = secrets  # type: ignore[attr-defined]
        return response
    raise failure from None


def _describe(exc: BaseException, secrets: Tuple[str, ...]) -> str:
    import requests

    kinds = (
        (requests.exceptions.SSLError, "TLS error"),
        (requests.exceptions.ConnectTimeout, "connect timeout"),
        (requests.exceptions.ReadTimeout, "read timeout"),
        (requests.exceptions.ConnectionError, "connection error"),
    )
    kind = next((label for cls, label in kinds if isinstance(exc, cls)), type(exc).__name__)
    detail = str(exc)
    # urllib3's messages repeat the pool and the whole URL; keep the innermost cause.
    cause = re.search(r"\[Errno -?\d+\][^\"')]*|timed out|certificate verify failed[^\"')]*", detail)
    if cause:
        detail = cause.group(0).strip()
    elif "IncompleteRead" in detail or "Connection broken" in detail:
        detail = "the connection closed before the answer was complete"
    elif "RemoteDisconnected" in detail or "closed connection without response" in detail:
        detail = "the connection closed before the answer arrived"
    return f"{kind}: {redact(detail, *secrets)[:200]}"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(response: requests.Response, secrets: Tuple[str, ...]) -> Result:
    secrets = tuple(secrets) + tuple(getattr(response, "_opi_secrets", ()))
    raw = response.content
    status = response.status_code
    failure: Optional[UnexpectedResponse] = None
    if not raw.strip():
        if status >= 400:
            raise UnexpectedResponse(status, "", "the error answer is empty")
        return {}
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except RecursionError:
        failure = UnexpectedResponse(status, _snippet(raw, secrets), "the answer is nested too deeply")
    except (UnicodeDecodeError, ValueError):
        failure = UnexpectedResponse(status, _snippet(raw, secrets))
    else:
        if not isinstance(data, dict):
            failure = UnexpectedResponse(status, _snippet(raw, secrets), "the answer is not a JSON object")
    if failure is not None:
        raise failure from None
    return data  # type: ignore[no-any-return]


def _snippet(raw: bytes, secrets: Tuple[str, ...]) -> str:
    text = raw[:4096].decode("utf-8", errors="replace")
    return redact(text, *secrets)[:200]


def _json_default(value: Any) -> Any:
    """Values inside user structures that JSON has no type for (OneScript 1.x writes dates as ISO)."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%dT00:00:00")
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, _stream.Base64):
        return value.text()
    raise TypeError(type(value).__name__)


def _json_body(params: Mapping[str, Any]) -> Union[bytes, _stream.StreamedBody]:
    """The JSON body, as bytes; streamed (:mod:`._stream`) when it holds files to send base64-encoded.

    The files are replaced by placeholders while ``json.dumps`` writes the rest, so only the skeleton is
    ever a string; the bytes on the wire are those of ``json.dumps(params, ensure_ascii=False)``.
    """
    files: list[_stream.Base64] = []
    nonce = ""

    def default(value: Any) -> Any:
        nonlocal nonce
        if isinstance(value, _stream.Base64):
            nonce = nonce or os.urandom(8).hex()
            files.append(value)
            return _stream.PLACEHOLDER.format(nonce=nonce, index=len(files) - 1)
        return _json_default(value)

    try:
        text = json.dumps(params, ensure_ascii=False, default=default)
    except (TypeError, ValueError) as exc:
        for key, value in params.items():
            try:
                json.dumps(value, default=default)
            except (TypeError, ValueError):
                raise InvalidArgument(key, f"holds a value that cannot be sent as JSON ({exc})") from None
        raise
    if files:
        return _stream.json_body(text, nonce, files)
    return text.encode("utf-8")


#: What takes a call instead of sending it: ``(verb, REST method, url, token, fields) -> answer``.
Interceptor = Callable[[str, str, Any, Any, Mapping[str, Any]], Result]

#: The call layer's interception point, set by a layer above the core for a block (the batch layer's
#: ``deferred()`` records each call as a batch command): the core never imports that layer.
_interceptor: contextvars.ContextVar[Optional[Interceptor]] = contextvars.ContextVar(
    "opi_bitrix24_interceptor", default=None
)


@contextlib.contextmanager
def intercepting(interceptor: Interceptor) -> Iterator[None]:
    """Inside the block, every call of an OPI function goes to ``interceptor`` instead of the portal."""
    marker = _interceptor.set(interceptor)
    try:
        yield
    finally:
        _interceptor.reset(marker)


def _call(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Result:
    interceptor = _interceptor.get()
    if interceptor is not None:  # e.g. inside deferred(): the call is noted, not sent
        return interceptor(verb, api_method, url, token, fields)
    status, data = _exchange(verb, api_method, url, token, fields)
    if "error" in data and current_settings().raise_api_errors:
        from ._limits import typed_error

        raise typed_error(status, api_method, endpoint_url(url, token, api_method)[0], data, token)
    return data


def _exchange(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Tuple[int, Result]:
    """Send one call with the limits applied; ``(HTTP status, parsed answer)``.

    Hook points (additions beyond OPI, all driven by :class:`Settings`): the portal's leaky bucket
    before each send, operating-time accounting after the answer, one wait-and-repeat on
    ``OPERATION_TIME_LIMIT`` within ``operating_wait``, one refresh-and-repeat on ``expired_token``
    with ``oauth_app``.
    """
    config = current_settings()
    with _deadline.scope(config.deadline):
        return _exchange_within(config, verb, api_method, url, token, fields)


def _exchange_within(
    config: Settings, verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]
) -> Tuple[int, Result]:
    from . import _auth, _limits

    address, params = endpoint_url(url, token, api_method)
    params = _fields(params, fields)
    app = config.oauth_app
    if app is not None and "auth" in params:
        params["auth"] = _auth.current(app, params["auth"])
    refreshed = waited = False
    while True:
        secrets = tuple(s for s in (params.get("auth"),) if isinstance(s, str))
        _limits.operating_pause(address, api_method, config.operating_wait)
        _limits.acquire(address, config.rate_limit)
        if verb == "GET":
            target = address
            if params:
                target += ("&" if "?" in address else "?") + _query_string(params)
            response = _send("GET", target, None, secrets)
        else:
            body = _json_body(params) if params else None
            response = _send("POST", address, body, secrets)
        data = _parse(response, secrets)
        _limits.note_time(address, api_method, data.get("time"))
        error = data.get("error")
        if error == "expired_token" and app is not None and "auth" in params and not refreshed:
            params["auth"] = _auth.refresh(app, str(params["auth"]))
            refreshed = True
            continue
        if error == "OPERATION_TIME_LIMIT" and not waited:
            pause = _limits.blocked_wait(address, api_method, config.operating_wait)
            left = _deadline.remaining()
            if pause is not None and (left is None or pause < left):  # a wait past the deadline: this answer
                _deadline.sleep(pause, f"{verb} {api_method}: the operating-time wait")
                waited = True
                continue
        return response.status_code, data


OAUTH_URL = "https://oauth.bitrix.info/oauth/token/"


def oauth(**fields: Any) -> Result:
    """GET the OAuth token endpoint with the fields in the query, in order (OPI ``GetToken``/``RefreshToken``).

    Not a portal call: no NormalizeAuth. ``client_secret``, ``code`` and ``refresh_token`` are kept out of
    logs and messages.
    """
    return oauth_exchange(**fields)[1]


def oauth_exchange(**fields: Any) -> Tuple[int, Result]:
    """:func:`oauth` with the HTTP status: ``(status, parsed answer)`` (the automatic refresh needs both)."""
    import os

    address = current_settings().oauth_url or os.environ.get("OPI_BITRIX24_OAUTH_URL") or OAUTH_URL
    params = _fields({}, fields)
    secrets = tuple(str(params[k]) for k in ("client_secret", "code", "refresh_token") if k in params)
    address += ("&" if "?" in address else "?") + _query_string(params)
    response = _send("GET", address, None, secrets)
    return response.status_code, _parse(response, secrets)


def upload(address: str, field: str, filename: str, content: Union[bytes, _stream.FileSource]) -> Result:
    """POST one file as ``multipart/form-data`` to an absolute upload URL (OPI ``PostMultipart``).

    Used by the two-step disk upload: the portal's first answer gives ``uploadUrl`` and the form-field name.
    No auth is added (the URL carries its own); one file part, no content type, no other fields.
    ``content`` is bytes or a :class:`~._stream.FileSource`: the body is streamed (the file is read while
    it is sent, and again on a retry), with its exact ``Content-Length``.
    """
    import uuid

    boundary = uuid.uuid4().hex
    safe_name = filename.replace('"', "%22").replace("\r", " ").replace("\n", " ")
    safe_field = field.replace('"', "%22")
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{safe_field}"; filename="{safe_name}"\r\n\r\n'
    body = _stream.StreamedBody([head.encode(), content, f"\r\n--{boundary}--\r\n".encode()])
    response = _send("POST", address.strip(), body, (), content_type=f"multipart/form-data; boundary={boundary}")
    return _parse(response, ())


def post(api_method: str, url: Any, token: Any, **fields: Any) -> Result:
    """Call ``api_method`` with the fields as a JSON body (OPI ``PostWithBody``)."""
    return _call("POST", api_method, url, token, fields)


def get(api_method: str, url: Any, token: Any, **fields: Any) -> Result:
    """Call ``api_method`` with the fields in the query string (OPI ``Get``)."""
    return _call("GET", api_method, url, token, fields)


def post_fields(api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Result:
    """Like :func:`post` for keys that are not Python identifiers (or come from user data)."""
    return _call("POST", api_method, url, token, fields)


def fetch(url: str, name: str) -> bytes:
    """Download a file or JSON document given as an ``http(s)://`` argument (OPI does the same).

    The same transport as a portal call — TLS settings, deadline, answer cap, same-origin redirects of
    GET only — but nothing of the portal's: no webhook key, no token.
    """
    _convert.allowed_source("url", name)
    try:
        response = _send("GET", url.strip(), None, ())
    except RedirectRefused as exc:
        failure: OPIError = RedirectRefused(f"downloading {name} failed: {exc}", exc.location)
    except TransportError as exc:
        failure = type(exc)(f"downloading {name} failed: {exc}")
    except UnexpectedResponse as exc:
        failure = exc
    else:
        if response.status_code < 400:
            return bytes(response.content)
        failure = TransportError(f"downloading {name} failed: HTTP {response.status_code}")
    raise failure from None


_convert.url_fetcher = fetch


def _sources() -> str:
    return current_settings().sources


_convert.source_policy = _sources
