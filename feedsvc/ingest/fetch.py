"""HTTP only: fetch one feed URL politely and safely, and say what happened.

`Fetcher.fetch` never raises for anything a server or the network does; every
outcome, good or bad, comes back as a `FetchResult` with the problem in words.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from feedsvc import __version__

USER_AGENT = f"feedsvc/{__version__} (feed fetcher)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/json;q=0.8, application/xml;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECT_CODES = {301, 308}

# Error kinds, for the policy and the fetch history.
TIMEOUT = "timeout"
CONNECTION = "connection"
TLS = "tls"
REFUSED = "refused"
TOO_LARGE = "too_large"
TOO_MANY_REDIRECTS = "redirects"
BAD_URL = "bad_url"


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    # True when every redirect on the way was permanent (301/308).
    permanent_redirect: bool = False
    error_kind: str | None = None
    error: str | None = None
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def redirected(self) -> bool:
        return self.final_url != self.url


class AddressRefused(Exception):
    """The guard refused a URL; the message says why."""


@dataclass(frozen=True)
class AddressGuard:
    """Refuses URLs that lead anywhere but the public internet over http(s).

    `allow_private` opens everything; `allow_hosts` opens given "host:port" pairs.
    """

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise AddressRefused(f"only http and https URLs are fetched, not {parts.scheme!r}")
        if not parts.hostname:
            raise AddressRefused("the URL has no host name")
        if self.allow_private or self._host_allowed(parts.hostname, _port(parts)):
            return
        for address in _resolve(parts.hostname, _port(parts)):
            self.check_address(address)

    def check_connected(self, url: str, address: str | None) -> None:
        """Check the address a connection actually reached."""
        parts = urlsplit(url)
        if address is None or self.allow_private:
            return
        if self._host_allowed(parts.hostname or "", _port(parts)):
            return
        self.check_address(address)

    def check_address(self, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise AddressRefused(f"{address} is not a public address")

    def _host_allowed(self, host: str, port: int) -> bool:
        return f"{host.lower()}:{port}" in self.allow_hosts


def _port(parts: object) -> int:
    port = parts.port  # type: ignore[attr-defined]
    if port is not None:
        return int(port)
    return 443 if parts.scheme == "https" else 80  # type: ignore[attr-defined]


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise AddressRefused(f"cannot resolve {host}: {exc.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    allow_hosts: tuple[str, ...] = ()
    user_agent: str = USER_AGENT


class Fetcher:
    """One pooled HTTP client, shared by every fetch in a process."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self.guard = AddressGuard(
            allow_private=self.settings.allow_private,
            allow_hosts=frozenset(h.lower() for h in self.settings.allow_hosts),
        )
        timeout = self.settings.timeout
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        started = time.monotonic()
        deadline = started + self.settings.timeout
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified

        current = url
        permanent = True
        for _hop in range(self.settings.max_redirects + 1):
            try:
                self.guard.check_url(current)
                status, headers, body = self._get(current, conditional, deadline)
            except AddressRefused as exc:
                return self._failure(url, current, REFUSED, f"refused: {exc}", started)
            except _BodyTooLarge:
                return self._failure(
                    url, current, TOO_LARGE,
                    f"the feed is larger than the {self.settings.max_bytes} byte limit",
                    started,
                )  # fmt: skip
            except httpx.TimeoutException:
                return self._failure(url, current, TIMEOUT, "timed out", started)
            except _DeadlineExceeded:
                return self._failure(
                    url, current, TIMEOUT,
                    f"took longer than {self.settings.timeout:g} s in all", started,
                )  # fmt: skip
            except httpx.InvalidURL as exc:
                return self._failure(url, current, BAD_URL, f"invalid URL: {exc}", started)
            except httpx.HTTPError as exc:
                kind = TLS if "SSL" in repr(exc) or "certificate" in str(exc) else CONNECTION
                words = "TLS error" if kind == TLS else "could not connect"
                return self._failure(url, current, kind, f"{words}: {_describe(exc)}", started)

            if status in REDIRECT_CODES and "location" in headers:
                permanent = permanent and status in PERMANENT_REDIRECT_CODES
                current = urljoin(current, headers["location"])
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
            url, current, TOO_MANY_REDIRECTS,
            f"more than {self.settings.max_redirects} redirects", started,
        )  # fmt: skip

    def _get(
        self, url: str, headers: dict[str, str], deadline: float
    ) -> tuple[int, dict[str, str], bytes]:
        with self.client.stream("GET", url, headers=headers) as response:
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            self.guard.check_connected(url, peer[0] if peer else None)
            body = b""
            if response.status_code not in REDIRECT_CODES and response.status_code != 304:
                body = self._read_capped(response.iter_bytes(), deadline)
            return response.status_code, _lower_headers(response.headers), body

    def _read_capped(self, chunks: Iterable[bytes], deadline: float) -> bytes:
        parts: list[bytes] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.settings.max_bytes:
                raise _BodyTooLarge
            if time.monotonic() > deadline:
                raise _DeadlineExceeded
            parts.append(chunk)
        return b"".join(parts)

    def _failure(
        self, url: str, current: str, kind: str, words: str, started: float
    ) -> FetchResult:
        return FetchResult(
            url=url, final_url=current, error_kind=kind, error=words,
            elapsed_ms=_ms_since(started),
        )  # fmt: skip


class _BodyTooLarge(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


def _lower_headers(headers: httpx.Headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
