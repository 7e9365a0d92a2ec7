"""The request core: one small path from an OPI-style call to the portal and back.

``post()`` / ``get()`` take the REST method, the URL (webhook or portal address), the token and the
already-converted fields (``SKIP`` values are dropped), build the request the way OPI's ``NormalizeAuth``
does, send it with the current :class:`Settings` and return the parsed JSON object, error bodies
included. The rules live in the sans-IO flows of :mod:`._flow`; this module opens the call's deadline and
runs them with the blocking driver (:mod:`._sync`), which imports ``requests`` on first use, so
importing the package stays cheap. It owns the call layer's interception point (:func:`intercepting`)
and :func:`plan`, which tells the call an OPI function would make without making it (the async driver
runs that call).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from . import _convert, _deadline, _flow, _redact, _stream, _sync, _wire
from ._errors import InvalidArgument
from ._flow import OAUTH_URL, upload_target
from ._redact import redact
from ._settings import Result, Settings, Timeout, configure, current_settings, settings
from ._wire import SKIP, endpoint_url

if TYPE_CHECKING:  # pragma: no cover
    from ._settings import SettingsChanges as SettingsChanges  # noqa: PLC0414 - re-exported for type checkers

__all__ = [
    "OAUTH_URL",
    "SKIP",
    "Call",
    "Done",
    "Result",
    "Settings",
    "Timeout",
    "configure",
    "current_settings",
    "endpoint_url",
    "fetch",
    "get",
    "intercepting",
    "oauth",
    "oauth_exchange",
    "plan",
    "post",
    "post_fields",
    "redact",
    "settings",
    "upload",
    "upload_target",
]

#: Names other modules and tests reach through the core (their homes: ``_wire``, ``_redact``).
_SCHEME = _wire._SCHEME
_WEBHOOK_PATH = _wire._WEBHOOK_PATH
_fields = _wire._fields
_json_body = _wire._json_body
_json_default = _wire._json_default
_query_string = _wire._query_string
_query_value = _wire._query_value
_url_secrets = _redact._url_secrets


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
    with _deadline.scope(current_settings().deadline):
        return _sync.run(_flow.call(verb, api_method, url, token, fields))


def _exchange(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Tuple[int, Result]:
    """Send one call with the limits applied (:func:`._flow.exchange`); ``(HTTP status, parsed answer)``.

    The additions beyond OPI, all driven by :class:`Settings`: the portal's leaky bucket before each send,
    operating-time accounting after the answer, one wait-and-repeat on ``OPERATION_TIME_LIMIT`` within
    ``operating_wait``, one refresh-and-repeat on ``expired_token`` with ``oauth_app``.
    """
    with _deadline.scope(current_settings().deadline):
        return _sync.run(_flow.exchange(verb, api_method, url, token, fields))


def oauth(**fields: Any) -> Result:
    """GET the OAuth token endpoint with the fields in the query, in order (OPI ``GetToken``/``RefreshToken``).

    Not a portal call: no NormalizeAuth. ``client_secret``, ``code`` and ``refresh_token`` are kept out of
    logs and messages.
    """
    return oauth_exchange(**fields)[1]


def oauth_exchange(**fields: Any) -> Tuple[int, Result]:
    """:func:`oauth` with the HTTP status: ``(status, parsed answer)``."""
    with _deadline.scope(current_settings().deadline):
        return _sync.run(_flow.oauth_exchange(fields))


def upload(address: str, field: str, filename: str, content: Union[bytes, _stream.FileSource]) -> Result:
    """POST one file as ``multipart/form-data`` to an absolute upload URL (OPI ``PostMultipart``).

    Used by the two-step disk upload: the portal's first answer gives ``uploadUrl`` and the form-field name.
    No auth is added (the URL carries its own); one file part, no content type, no other fields.
    ``content`` is bytes or a :class:`~._stream.FileSource`: the body is streamed (the file is read while
    it is sent, and again on a retry), with its exact ``Content-Length``.
    """
    with _deadline.scope(current_settings().deadline):
        return _sync.run(_flow.upload(address, field, filename, content))


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

    The same transport as a portal call -- TLS settings, deadline, answer cap, same-origin redirects of
    GET only -- but nothing of the portal's: no webhook key, no token.
    """
    _convert.allowed_source("url", name)
    return _sync.fetch(url, name)


# --- plan: the call an OPI function would make ----------------------------------------------------


@dataclass(frozen=True)
class Call:
    """The one call an OPI function would make: run it with ``_flow.call(verb, api_method, url, token, fields)``."""

    verb: str
    api_method: str
    url: Any
    token: Any
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """An OPI function that sends nothing (a structure template, say): its value."""

    value: Any


class _Planned(Dict[str, Any]):
    """The answer a planned function is given instead of the portal's: it notes whether the function read it.

    A function whose result depends on the answer (it looks into it: the two-step upload) cannot be
    planned as one call; one that returns it untouched can.
    """

    read = False

    def _note(self) -> None:
        self.read = True

    def __getitem__(self, key: str) -> Any:
        self._note()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._note()
        return super().__iter__()

    def __len__(self) -> int:
        self._note()
        return super().__len__()

    def keys(self) -> Any:
        self._note()
        return super().keys()

    def values(self) -> Any:
        self._note()
        return super().values()

    def items(self) -> Any:
        self._note()
        return super().items()


def plan(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Union[Call, Done]:
    """What ``function(*args, **kwargs)`` would send, without sending it: a :class:`Call` or :class:`Done`.

    The function runs under the interception point (its arguments are converted and checked as in a real
    call, files read, URLs fetched): the call it makes is noted and it is handed a placeholder answer. A
    function that makes no call gives :class:`Done` with its value. A function whose result is not the
    portal's answer untouched -- two requests, an answer it looks into (the two-step upload) or reworks --
    cannot be planned: :class:`InvalidArgument` naming ``function``.
    """
    calls: List[Call] = []
    placeholder = _Planned()

    def note(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Result:
        endpoint_url(url, token, api_method)  # the same argument checks as a real call
        calls.append(Call(verb, api_method, url, token, {k: v for k, v in fields.items() if v is not SKIP}))
        return placeholder

    name = getattr(function, "__name__", "function")
    with intercepting(note):
        try:
            value = function(*args, **kwargs)
        except Exception:
            if not calls:
                raise  # a bad argument: the function's own error, nothing would be sent
            value = None
    if not calls:
        return Done(value)
    if len(calls) > 1 or value is not placeholder or placeholder.read:
        raise InvalidArgument(
            "function", f"{name} makes more than one request or reads the answer; it cannot be planned as one call"
        )
    return calls[0]
