"""A source's own fetch options as an admin gives them, checked.

User-Agent, extra headers, a cookie and HTTP basic credentials: values that
end up in a request line, so nothing that could split a header, smuggle a
second request or speak for the connection is let through. The cookie and the
credentials are secrets: they are stored sealed (`feedsvc/sealing.py`) and
never shown back; extra headers are shown, so secrets do not belong in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from feedsvc.errors import FeedsvcError

MAX_HEADERS = 20
MAX_NAME = 100
MAX_VALUE = 2000
MAX_USER_AGENT = 500
MAX_COOKIE = 4096
MAX_CREDENTIAL = 500

# RFC 9110 5.6.2: a field name is a token.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII and the space: nothing that ends a line or the header.
PRINTABLE = re.compile(r"[\x20-\x7e]*")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Headers about the connection itself (RFC 9110 7.6.1), which a proxy drops:
# a source has no say in them.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})  # fmt: skip
# Headers the fetcher sets itself, each with what to do instead.
OWN_HEADERS = {
    "host": "the host is the feed URL's",
    "content-length": "a fetch sends no body",
    "expect": "a fetch sends no body",
    "user-agent": "set the User-Agent option instead",
    "cookie": "set the cookie option instead: it is stored sealed",
    "authorization": "set the username and password instead: they are stored sealed",
    "accept-encoding": "the fetcher asks for the encodings it decodes",
    "if-none-match": "the fetcher sends the cache validators itself",
    "if-modified-since": "the fetcher sends the cache validators itself",
}


class FetchOptionError(FeedsvcError):
    """A fetch option that cannot be sent; the message says why, `field` which."""


@dataclass(frozen=True)
class FetchOptionsWanted:
    """Changes an admin asks for; None leaves an option as it is, "" (or no
    header lines) clears it. Credentials are set as a pair: an empty username
    clears them."""

    user_agent: str | None = None
    headers: Iterable[str] | None = None
    cookie: str | None = None
    username: str | None = None
    password: str | None = None
    ignore_validators: bool | None = None


def _printable(value: str, field: str, what: str) -> str:
    if not PRINTABLE.fullmatch(value):
        raise FetchOptionError(
            f"{what} may hold visible ASCII characters and spaces only "
            "(no line breaks, tabs or control characters)", field,
        )  # fmt: skip
    return value


def check_user_agent(value: str) -> str | None:
    """The User-Agent to send, None for the default."""
    value = value.strip()
    if len(value) > MAX_USER_AGENT:
        raise FetchOptionError(f"the User-Agent is longer than {MAX_USER_AGENT} characters",
                               "user_agent")  # fmt: skip
    return _printable(value, "user_agent", "the User-Agent") or None


def parse_header(line: str) -> tuple[str, str]:
    """A header line, "Name: value", as a (name, value) pair, or FetchOptionError saying why not."""
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name:
        raise FetchOptionError(f"{line.strip()[:80]!r} is not a header: write 'Name: value'",
                               "headers")  # fmt: skip
    if len(name) > MAX_NAME or not TOKEN.fullmatch(name):
        raise FetchOptionError(f"{name[:80]!r} is not a header name (letters, digits and "
                               "!#$%&'*+-.^_`|~ only)", "headers")  # fmt: skip
    lower = name.lower()
    if lower in HOP_BY_HOP:
        raise FetchOptionError(f"{name} is about the connection, not the request: it is "
                               "not sent", "headers")  # fmt: skip
    if lower in OWN_HEADERS:
        raise FetchOptionError(f"{name} cannot be set: {OWN_HEADERS[lower]}", "headers")
    if lower.startswith("proxy-") or lower.startswith("sec-"):
        raise FetchOptionError(f"{name} cannot be set by a source", "headers")
    if len(value) > MAX_VALUE:
        raise FetchOptionError(f"the value of {name} is longer than {MAX_VALUE} characters",
                               "headers")  # fmt: skip
    return name, _printable(value, "headers", f"the value of {name}")


def check_headers(lines: Iterable[str]) -> list[tuple[str, str]]:
    """The extra headers, one "Name: value" a line (blank lines skipped)."""
    pairs = [parse_header(line) for line in lines if line.strip()]
    if len(pairs) > MAX_HEADERS:
        raise FetchOptionError(f"at most {MAX_HEADERS} extra headers", "headers")
    names = [name.lower() for name, _ in pairs]
    if len(set(names)) != len(names):
        raise FetchOptionError("each header once: a name is given twice", "headers")
    return pairs


def check_cookie(value: str) -> str | None:
    """The Cookie header's value ("name=value; other=value"), None for none."""
    value = value.strip()
    if len(value) > MAX_COOKIE:
        raise FetchOptionError(f"the cookie is longer than {MAX_COOKIE} characters", "cookie")
    return _printable(value, "cookie", "the cookie") or None


def check_credentials(username: str, password: str) -> str | None:
    """The credentials, "username:password", for HTTP basic authentication; None: none."""
    username = username.strip()
    if not username:
        return None
    if ":" in username:
        raise FetchOptionError("the username may not contain ':'", "username")
    for value, field in ((username, "username"), (password, "password")):
        if len(value) > MAX_CREDENTIAL:
            raise FetchOptionError(f"the {field} is longer than {MAX_CREDENTIAL} characters",
                                   field)  # fmt: skip
    _printable(username, "username", "the username")
    # Sent base64-encoded as UTF-8 (RFC 7617): any character but a control one.
    if CONTROL.search(password):
        raise FetchOptionError("the password may not hold control characters", "password")
    return f"{username}:{password}"
