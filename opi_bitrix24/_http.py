"""The HTTP session of the request core (imported on first use: it imports ``requests``).

- Watched connection pools: a pool hands each connection it gives out to the deadline watchdog
  (:mod:`._deadline`), so a request still in flight past the call's deadline has its socket shut
  down — whatever phase it is in (connecting, sending, waiting for or reading the headers or the body).
  :func:`instrument` teaches the pools of a caller's own ``requests.Session`` the same.
- :class:`PortalSession`, the default session: cookies are kept per origin (scheme, host, port; default
  ports normalised) and never replayed to another one — another port of the same host included; the
  environment's settings (proxies, CA bundle: ``trust_env``) are looked up once per origin and again only
  when the environment changes; a redirect's body is never read by ``requests`` (the core handles
  redirects itself and reads nothing it does not need).
"""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import Any, Dict, Mapping, Optional, Tuple

import requests
import requests.adapters
import requests.cookies
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import HTTPConnectionPool

from . import _deadline

__all__ = ["PortalSession", "instrument", "origin_key"]


class _WatchedPool:
    """Mixed into a urllib3 pool class: the connection handed out goes to the deadline watchdog."""

    def _get_conn(self, timeout: Optional[float] = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        _deadline.attach(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None and _deadline.detach(conn):
            conn.close()  # shut down past its deadline: never handed to another request
        super()._put_conn(conn)  # type: ignore[misc]


_watched_classes: Dict[type, type] = {}
_classes_lock = threading.Lock()


def _watched(cls: type) -> type:
    if issubclass(cls, _WatchedPool) or not issubclass(cls, HTTPConnectionPool):
        return cls
    with _classes_lock:
        made = _watched_classes.get(cls)
        if made is None:
            made = _watched_classes[cls] = type(f"Watched{cls.__name__}", (_WatchedPool, cls), {})
        return made


def _watch_manager(manager: Any) -> None:
    """Make a urllib3 PoolManager create watched pools, and turn the pools it holds into watched ones."""
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if not isinstance(classes, Mapping):
        return
    manager.pool_classes_by_scheme = {scheme: _watched(cls) for scheme, cls in classes.items()}
    pools = getattr(manager, "pools", None)
    if pools is not None:
        for key in list(pools.keys()):
            pool = pools.get(key)
            if pool is not None and type(pool) in _watched_classes:
                pool.__class__ = _watched_classes[type(pool)]  # only methods added: the state is the same


class _WatchingAdapter:
    """Mixed into a requests adapter class: its pools (direct or through a proxy) are watched pools."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[misc]
        _watch_manager(self.poolmanager)  # type: ignore[attr-defined]

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        known = proxy in self.proxy_manager  # type: ignore[attr-defined]
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)  # type: ignore[misc]
        if not known:
            _watch_manager(manager)
        return manager


class WatchedAdapter(_WatchingAdapter, requests.adapters.HTTPAdapter):
    """requests' adapter whose pools (direct or through a proxy) report their connections to the watchdog."""


_watched_adapters: Dict[type, type] = {requests.adapters.HTTPAdapter: WatchedAdapter}


def instrument(session: requests.Session) -> None:
    """Teach the adapters of a caller's session to report their connections to the watchdog (once each).

    Each ``HTTPAdapter`` (or subclass) becomes the same class with the watching methods mixed in, and
    the pools it already holds become watched pools: only methods are added, the state is the same.
    Nothing changes outside this package's calls: a pool reports only to a request this package is
    watching in the same context.
    """
    for adapter in list(session.adapters.values()):
        cls = type(adapter)
        if issubclass(cls, _WatchingAdapter) or not issubclass(cls, requests.adapters.HTTPAdapter):
            continue
        with _classes_lock:
            watched = _watched_adapters.get(cls)
            if watched is None:
                watched = _watched_adapters[cls] = type(f"Watched{cls.__name__}", (_WatchingAdapter, cls), {})
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None:
            _watch_manager(manager)
        for proxy_manager in list(getattr(adapter, "proxy_manager", {}).values()):
            _watch_manager(proxy_manager)
        adapter.__class__ = watched


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_key(url: str) -> Tuple[str, str]:
    """``(scheme, host[:port])`` of an absolute URL, lower-cased, the scheme's default port dropped."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2].lower()
    host, colon, port = netloc.rpartition(":")
    if colon and "]" not in port and port == _DEFAULT_PORTS.get(scheme):
        netloc = host
    return scheme, netloc


class OriginJars(requests.cookies.RequestsCookieJar):
    """A cookie jar per origin: what one origin sets is only ever sent back to that origin.

    The standard cookie rules (RFC 6265) ignore the port, so a jar shared by the whole session replays
    a portal's cookies to any other port of the same host. ``requests`` stores the cookies of every
    answer with :meth:`extract_cookies`; :class:`PortalSession` sends those of :meth:`jar` only.
    """

    def __init__(self) -> None:
        super().__init__()
        self._jars: Dict[Tuple[str, str], requests.cookies.RequestsCookieJar] = {}

    def jar(self, url: str) -> requests.cookies.RequestsCookieJar:
        key = origin_key(url)
        jar = self._jars.get(key)
        if jar is None:
            jar = self._jars.setdefault(key, requests.cookies.RequestsCookieJar())
        return jar

    def extract_cookies(self, response: Any, request: Any) -> None:
        self.jar(request.get_full_url()).extract_cookies(response, request)


#: On these platforms ``urllib.request.getproxies`` reads the environment only (no system settings), so
#: the environment decides everything requests' ``trust_env`` looks up.
_ENVIRONMENT_ONLY = urllib.request.getproxies is urllib.request.getproxies_environment


class PortalSession(requests.Session):
    """The default session: cookies per origin, the environment's settings looked up once per origin.

    Everything a plain ``requests.Session`` does with its default settings is kept: ``trust_env``
    (proxy variables, ``no_proxy``, ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, ``.netrc``); the lookup
    of the proxy and CA variables is repeated when the environment changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cookies = OriginJars()
        self.mount("https://", WatchedAdapter())
        self.mount("http://", WatchedAdapter())
        self._environment: Dict[Any, Tuple[Dict[Any, Any], Any]] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """requests' own preparation with this session's settings, and the cookies of the URL's origin only.

        The same steps as ``Session.prepare_request`` for what the core sends (method, URL, headers,
        body; ``.netrc`` credentials with ``trust_env``), without its generic merging of settings the
        core never uses (anything else goes the generic way).
        """
        jars = self.cookies
        if (
            not isinstance(jars, OriginJars)
            or request.cookies
            or request.auth
            or request.params
            or request.files
            or request.json is not None
            or self.auth
            or self.params
            or any(self.hooks.values())
        ):
            return super().prepare_request(request)
        url = str(request.url)
        merged = CaseInsensitiveDict(self.headers)
        for name, value in (request.headers or {}).items():
            merged[name] = value
        for name in [name for name, value in merged.items() if value is None]:
            del merged[name]
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=str(request.method).upper(),
            url=url,
            headers=merged,
            data=request.data,
            auth=requests.utils.get_netrc_auth(url) if self.trust_env else None,
            cookies=jars.jar(url),
            hooks=request.hooks,
        )
        return prepared

    def get_redirect_target(self, resp: requests.Response) -> Optional[str]:
        return None  # the core follows (or refuses) redirects itself; requests must not read their bodies

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """requests' lookup of the environment (proxies, CA bundle), done again only when the environment changes."""
        data = getattr(os.environ, "_data", None)
        if not self.trust_env or not _ENVIRONMENT_ONLY or not isinstance(data, dict) or url is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        try:
            key = (origin_key(url), tuple(sorted((proxies or {}).items())), stream, verify, cert)
            hash(key)
        except TypeError:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        known = self._environment.get(key)
        if known is None or known[0] != data:
            merged = super().merge_environment_settings(url, dict(proxies or {}), stream, verify, cert)
            if len(self._environment) > 256:
                self._environment.clear()
            known = self._environment[key] = (dict(data), merged)
        settings: Dict[str, Any] = dict(known[1])
        if isinstance(settings.get("proxies"), Mapping):
            settings["proxies"] = dict(settings["proxies"])  # the caller's copy: the cached one stays as it is
        return settings
