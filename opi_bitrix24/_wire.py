"""What goes on the wire: OPI's NormalizeAuth (:func:`endpoint_url`), the query-string and JSON encoding.

Pure functions, no I/O: the flows (:mod:`._flow`) build every request with them, whichever driver sends
it. ``SKIP`` (re-exported by :mod:`._convert`) marks a value that is not sent at all.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import os
import re
from typing import Any, Dict, Final, Mapping, Optional, Tuple, Union
from urllib.parse import quote

from . import _stream
from ._errors import InvalidArgument

__all__ = ["SKIP", "endpoint_url"]


class _Skip:
    """Marker for a value that is not sent at all (``_convert.SKIP``: the wire encoding drops it)."""

    _instance: Optional[_Skip] = None

    def __new__(cls) -> _Skip:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SKIP"

    def __bool__(self) -> bool:
        return False


SKIP: Final = _Skip()


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


# --- JSON bodies -------------------------------------------------------------------------------


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
