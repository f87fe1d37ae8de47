"""HTTP only: fetch one feed URL politely and safely, and say what happened.

`Fetcher.fetch` never raises for anything a server or the network does; every
result, good or bad, comes back as a `FetchResult` with the problem in words.

One deadline bounds the whole exchange (connect, TLS, headers, every redirect hop
and the body): httpx's timeouts hold per read, so a server sending a byte every
few seconds would otherwise hold a fetch for as long as it likes.

Requests go straight to the transport, not through an httpx.Client: the fetcher
follows redirects itself and keeps no cookies, and the client's layers for
those (and its URL and header merging) were a fifth of a 304's CPU time.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetched import NO_OPTIONS, FetchOptions, FetchResult
from feedsvc.sealing import SOURCE_SECRETS, CannotOpen, Sealer
from feedsvc.version import __version__
from feedsvc.vocabulary import FetchErrorKind

USER_AGENT = f"feedsvc/{__version__} (feed fetcher)"
# Sent once after a 403 to ours (sites that refuse anything but a browser), and
# from then on when it worked. Reader does the same.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/json;q=0.8, application/xml;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECT_CODES = {301, 308}
# A 304 or redirect body up to this size is read out so its connection can be reused.
DRAIN_BYTES = 64 * 1024


class AddressRefused(FeedsvcError):
    """The guard refused a URL or an address; the message says why."""

    kind = ErrorKind.REFUSED


@dataclass(frozen=True)
class AddressGuard:
    """Refuses URLs that lead anywhere but the public internet over http(s).

    `allow_private` opens everything; `allow_hosts` opens given "host:port" pairs.
    The check runs where the socket is opened (see `GuardedBackend`), on the
    address actually connected to, so neither DNS nor a redirect gets round it.
    """

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise AddressRefused(f"only http and https URLs are fetched, not {parts.scheme!r}")
        if not parts.hostname:
            raise AddressRefused("the URL has no host name")
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise AddressRefused("the URL's port is not a valid number") from None

    def allows_any(self, host: str, port: int) -> bool:
        return self.allow_private or f"{host.lower()}:{port}" in self.allow_hosts

    def check_address(self, address: str) -> None:
        reason = non_public_reason(address)
        if reason:
            raise AddressRefused(f"{address} is {reason}, not a public address")


def non_public_reason(address: str) -> str | None:
    """Why an IP address is not on the public internet, or None if it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.teredo is not None:
            ip = ip.teredo[1]
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("carrier-grade NAT", ip in _CGNAT),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


# When the current fetch must end (a time.monotonic() value). The fetcher is
# shared by threads; each thread's fetch sets its own.
_deadline: ContextVar[float | None] = ContextVar("fetch_deadline", default=None)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """httpcore's timeout for one operation, cut to what is left of the fetch."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the fetch's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read, write and TLS handshake ends by the
    current fetch's deadline, whatever httpcore's per-operation timeout says."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        # The TLS stream is a new object: bound it too.
        return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects only to vetted addresses; every
    stream it opens ends by the current fetch's deadline (`DeadlineStream`).

    TLS still verifies the certificate for the host name: httpcore passes the
    origin's host as SNI whatever address the socket reached.
    """

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        targets = [host] if self.guard.allows_any(host, port) else self._vetted(host, port)
        last_error: Exception | None = None
        for target in targets:
            try:
                stream = super().connect_tcp(
                    target, port, _bounded(timeout, httpcore.ConnectTimeout),
                    local_address, socket_options,
                )  # fmt: skip
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return DeadlineStream(stream)
        assert last_error is not None  # targets is never empty
        raise last_error

    def _vetted(self, host: str, port: int) -> list[str]:
        return vetted_addresses(self.guard, host, port)


def vetted_addresses(guard: AddressGuard, host: str, port: int) -> list[str]:
    """The host's public addresses; AddressRefused naming them all if it has none."""
    vetted, refusals = [], []
    for address in _resolve(host, port):
        try:
            guard.check_address(address)
        except AddressRefused as exc:
            refusals.append(str(exc))
            continue
        vetted.append(address)
    if not vetted:
        raise AddressRefused(f"{host} resolves to {'; '.join(refusals)}")
    return vetted


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, guard: AddressGuard, limits: httpx.Limits, proxy: str = "") -> None:
        super().__init__(limits=limits, trust_env=False)
        pool: dict[str, Any] = {
            "ssl_context": httpx.create_ssl_context(trust_env=False),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
        }
        # httpx builds its pool without a way to pass a network backend; rebuild it.
        if proxy:
            # The operator's proxy is reached whatever its address; the targets
            # are vetted before each request instead (`Fetcher._check_target`).
            self._pool = httpcore.HTTPProxy(
                proxy_url=proxy, network_backend=GuardedBackend(AddressGuard(allow_private=True)),
                **pool,
            )  # fmt: skip
        else:
            self._pool = httpcore.ConnectionPool(network_backend=GuardedBackend(guard), **pool)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve {host}: {getattr(exc, 'strerror', exc)}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    allow_hosts: tuple[str, ...] = ()
    user_agent: str = USER_AGENT
    accept: str = ACCEPT
    # An http:// proxy every fetch goes through; empty: none.
    proxy: str = ""
    # Opens the sources' sealed cookies and credentials; empty: they are not sent.
    secret_key: str = field(default="", repr=False)

    def guard(self) -> AddressGuard:
        """The address guard these settings ask for (webhook targets are checked by it too)."""
        return AddressGuard(
            allow_private=self.allow_private,
            allow_hosts=frozenset(h.lower() for h in self.allow_hosts),
        )


class Fetcher:
    """One pooled transport, shared by every fetch in a process (thread-safe)."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self.guard = self.settings.guard()
        timeout = self.settings.timeout
        # Keep-alive to many hosts at once: a worker polls hundreds of them.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        key = self.settings.secret_key
        self.sealer = Sealer(key, SOURCE_SECRETS) if key else None
        self.transport = GuardedTransport(self.guard, limits, self.settings.proxy)
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        # Every request's headers before its own, in the order httpx.Client sent
        # them (its defaults, ours in place of its own). No cookie jar: one
        # transport fetches every source, and a cookie one source's server sets
        # (a session, after the source's own cookie or credentials signed in)
        # must not go with another source's fetches; only a source's own is sent.
        self.headers = httpx.Headers(
            [
                ("Connection", "keep-alive"),
                ("User-Agent", self.settings.user_agent),
                ("Accept", self.settings.accept),
                ("Accept-Encoding", "gzip, deflate"),
            ]
        )
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.transport.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        deadline: float | None = None,
        options: FetchOptions = NO_OPTIONS,
        secrets_for: str | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects, all within the settings' timeout or by
        `deadline` (a time.monotonic() value) if that comes sooner.

        The source's `options` apply; its extra headers, cookie and credentials
        go to the host of `secrets_for` (the feed's address; `url` by default)
        only, never to another that `url` or a redirect leads to. A 403 to
        our User-Agent is asked once more as a browser (unless the source names
        its own User-Agent); `browser_agent` on the result says that worked.
        """
        started = time.monotonic()
        own_deadline = started + self.settings.timeout
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        token = _deadline.set(deadline)
        try:
            try:
                private = self._private_headers(options)
            except CannotOpen as exc:
                return self._failure(url, url, FetchErrorKind.INTERNAL, str(exc), started)
            agent = options.user_agent or (BROWSER_USER_AGENT if options.as_browser else None)
            own = secrets_for or url
            result = self._fetch(url, etag, last_modified, started, deadline, agent, private, own)
            if result.status == 403 and agent is None:
                retried = self._fetch(url, etag, last_modified, started, deadline,
                                      BROWSER_USER_AGENT, private, own)  # fmt: skip
                if retried.ok or retried.not_modified:
                    return replace(retried, browser_agent=True)
            return result
        finally:
            _deadline.reset(token)

    def _private_headers(self, options: FetchOptions) -> dict[str, str]:
        """What goes to the source's own host only: its headers, cookie and credentials."""
        private = dict(options.headers)
        if (options.cookie or options.credentials) and self.sealer is None:
            raise CannotOpen("the source's cookie and credentials need FEEDSVC_SECRET_KEY")
        if options.cookie and self.sealer:
            private["Cookie"] = self.sealer.open(options.cookie)
        if options.credentials and self.sealer:
            pair = self.sealer.open(options.credentials)
            private["Authorization"] = _basic_auth(pair)
        return private

    def _check_target(self, url: str) -> None:
        """Through a proxy, which resolves and connects for us: vet the target's
        addresses here, so the proxy is no way round the guard."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not self.guard.allows_any(host, port):
            vetted_addresses(self.guard, host, port)

    def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, started: float,
        deadline: float, agent: str | None = None, private: dict[str, str] | None = None,
        own: str | None = None,
    ) -> FetchResult:  # fmt: skip
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        if agent:
            conditional["User-Agent"] = agent

        current = url
        permanent = True
        for _hop in range(self.settings.max_redirects + 1):
            sent = conditional
            if private and same_host(own or url, current):
                sent = {**conditional, **private}
            answer = self._exchange("GET", url, current, sent, started, deadline)
            if isinstance(answer, FetchResult):
                return answer
            status, headers, body = answer
            if status in REDIRECT_CODES and "location" in headers:
                permanent = permanent and status in PERMANENT_REDIRECT_CODES
                location = headers["location"].strip()
                try:
                    current = urljoin(current, location)
                except ValueError as exc:
                    return self._failure(
                        url, current, FetchErrorKind.BAD_URL,
                        f"the server redirected to an invalid URL: {location!r} ({exc})",
                        started,
                    )  # fmt: skip
                continue
            return FetchResult(
                url=url,
                final_url=current,
                status=status,
                headers=headers,
                content=body,
                permanent_redirect=permanent and current != url,
                elapsed_ms=_ms_since(started),
            )
        return self._failure(
            url, current, FetchErrorKind.TOO_MANY_REDIRECTS,
            f"more than {self.settings.max_redirects} redirects", started,
        )  # fmt: skip

    def post_form(
        self, url: str, form: dict[str, str], *, deadline: float | None = None
    ) -> FetchResult:
        """POST a form to `url` (a WebSub hub) with the guard, the deadline and
        the size cap of a fetch; a redirect is answered as it is, not followed."""
        return self.post(url, {}, form=form, deadline=deadline)

    def post(
        self, url: str, headers: dict[str, str], *, form: dict[str, str] | None = None,
        content: bytes | None = None, deadline: float | None = None,
    ) -> FetchResult:  # fmt: skip
        """POST a form or a body (a webhook's JSON) as `post_form` does."""
        started = time.monotonic()
        own_deadline = started + self.settings.timeout
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        token = _deadline.set(deadline)
        try:
            answer = self._exchange("POST", url, url, headers, started, deadline, form, content)
        finally:
            _deadline.reset(token)
        if isinstance(answer, FetchResult):
            return answer
        status, headers, body = answer
        return FetchResult(url, url, status, headers, body, elapsed_ms=_ms_since(started))

    def _exchange(
        self, method: str, url: str, current: str, headers: dict[str, str], started: float,
        deadline: float, form: dict[str, str] | None = None, content: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes] | FetchResult:  # fmt: skip
        """One request to `current` (on the way from `url`): its answer, or the
        failure in words."""
        try:
            self.guard.check_url(current)
            if self.settings.proxy:
                self._check_target(current)
            if time.monotonic() >= deadline:
                raise _DeadlineExceeded
            return self._send(method, current, headers, deadline, form, content)
        except AddressRefused as exc:
            return self._failure(url, current, FetchErrorKind.REFUSED, f"refused: {exc}", started)
        except _BodyTooLarge:
            return self._failure(
                url, current, FetchErrorKind.TOO_LARGE,
                f"the feed is larger than the {self.settings.max_bytes} byte limit", started,
            )  # fmt: skip
        except _BadEncoding as exc:
            return self._failure(url, current, FetchErrorKind.CONNECTION, str(exc), started)
        except (httpx.TimeoutException, _DeadlineExceeded):
            limit = _seconds(max(0.0, deadline - started))
            return self._failure(
                url, current, FetchErrorKind.TIMEOUT,
                f"timed out after {limit} s (the whole exchange: connect, headers, "
                "redirects and body)", started,
            )  # fmt: skip
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return self._failure(
                url, current, FetchErrorKind.BAD_URL, f"invalid URL: {exc}", started
            )
        except httpx.HTTPError as exc:
            kind = FetchErrorKind.TLS if _is_tls_error(exc) else FetchErrorKind.CONNECTION
            words = "TLS error" if kind == FetchErrorKind.TLS else "could not connect"
            return self._failure(url, current, kind, f"{words}: {_describe(exc)}", started)
        except (ValueError, UnicodeError) as exc:
            return self._failure(
                url, current, FetchErrorKind.BAD_URL, f"invalid URL: {exc}", started
            )

    def _send(
        self, method: str, url: str, headers: dict[str, str], deadline: float,
        form: dict[str, str] | None = None, content: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        if self.closed:
            raise RuntimeError("Cannot send a request, as the fetcher has been closed.")
        request = self._request(method, url, headers, deadline, form, content)
        response = self.transport.handle_request(request)
        try:
            status = response.status_code
            body = b""
            if status not in REDIRECT_CODES and status != 304:
                encoding = response.headers.get("content-encoding", "").strip().lower()
                body = read_capped(response.iter_raw(), encoding, self.settings.max_bytes, deadline)
            else:
                _drain(response.iter_raw(), deadline)
            return status, _lower_headers(response.headers), body
        finally:
            response.close()

    def _request(
        self, method: str, url: str, headers: dict[str, str], deadline: float,
        form: dict[str, str] | None, content: bytes | None,
    ) -> httpx.Request:  # fmt: skip
        """The request httpx.Client built: our headers, then the request's
        (replacing ours of the same name), the body encoded by httpx, and Basic
        auth for a user name and password in the URL."""
        target = httpx.URL(url)  # before the headers: a bad URL is the error to report
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        # The streams hold reads to the deadline; this holds the wait for a
        # pooled connection to it too.
        timeout = self.timeout.as_dict() | {"pool": max(0.0, deadline - time.monotonic())}
        request = httpx.Request(method, target, headers=merged, data=form, content=content,
                                extensions={"timeout": timeout})  # fmt: skip
        if request.url.username or request.url.password:
            request.headers["Authorization"] = _basic_auth(
                f"{request.url.username}:{request.url.password}"
            )
        return request

    def _failure(
        self, url: str, current: str, kind: FetchErrorKind, words: str, started: float
    ) -> FetchResult:
        return FetchResult(
            url=url, final_url=current, error_kind=kind, error=words,
            elapsed_ms=_ms_since(started),
        )  # fmt: skip


def _basic_auth(pair: str) -> str:
    """The Authorization value for a "user:password" pair."""
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def same_host(first: str, then: str) -> bool:
    """Whether a redirect from `first` to `then` stays with the same server:
    the same host name and port, and never from https down to http."""
    a, b = urlsplit(first), urlsplit(then)
    if a.scheme == "https" and b.scheme != "https":
        return False
    ports = {"http": 80, "https": 443}
    same_port = (a.port or ports.get(a.scheme)) == (b.port or ports.get(b.scheme)) or (
        a.port is None and b.port is None  # http://host → https://host
    )
    return (a.hostname or "").lower() == (b.hostname or "").lower() and same_port


def read_capped(
    raw_chunks: Iterable[bytes], encoding: str, max_bytes: int, deadline: float
) -> bytes:
    """Read and decode a body, stopping as soon as it (compressed or not) passes
    `max_bytes` or the deadline: a decompression bomb never inflates past the cap."""
    decoder = _decoder(encoding)
    parts: list[bytes] = []
    size = 0
    for chunk in raw_chunks:
        if time.monotonic() > deadline:
            raise _DeadlineExceeded
        pending = chunk
        while pending:
            if decoder is None:
                data, pending = pending, b""
            else:
                try:
                    data = decoder.decompress(pending, max_bytes - size + 1)
                except zlib.error as exc:
                    raise _BadEncoding(f"the {encoding} body is corrupt: {exc}") from None
                pending = decoder.unconsumed_tail
            size += len(data)
            if size > max_bytes:
                raise _BodyTooLarge
            parts.append(data)
    if decoder is not None:
        parts.append(decoder.flush())
    return b"".join(parts)


def _drain(raw_chunks: Iterable[bytes], deadline: float) -> None:
    """Read a body we do not keep (a 304's, a redirect's) to its end, so the
    connection goes back to the pool for the next poll instead of being closed;
    one past DRAIN_BYTES is left, and its connection closed."""
    size = 0
    for chunk in raw_chunks:
        size += len(chunk)
        if size > DRAIN_BYTES or time.monotonic() > deadline:
            return


def _decoder(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # "deflate" is zlib-wrapped by the spec, raw in many servers: accept both.
        return _AnyDeflate()
    raise _BadEncoding(f"unsupported content encoding {encoding!r}")


class _AnyDeflate:
    """zlib-wrapped deflate, falling back to raw deflate on the first chunk."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj(zlib.MAX_WBITS)
        self._started = False

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if not self._started:
            self._started = True
            try:
                return self._inner.decompress(data, max_length)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)

    def flush(self) -> bytes:
        return self._inner.flush()


class _BodyTooLarge(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


class _BadEncoding(Exception):
    pass


def _is_tls_error(exc: Exception) -> bool:
    text = f"{exc!r} {exc}".lower()
    return "ssl" in text or "certificate" in text or "tls" in text


def _lower_headers(headers: httpx.Headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _seconds(value: float) -> str:
    """20.0 as "20", 0.5 as "0.5": a limit in words."""
    return f"{round(value, 1):g}"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
