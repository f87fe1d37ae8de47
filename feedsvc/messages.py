"""Fetch errors as a person reads them: what happened, in a sentence, and what to do next.

The one place error kinds become words for people — the admin's pages, the
API's `last_error` and `detail`, the CLI. The raw detail (errno text, the
parser's complaint) stays in the fetch history, which keeps it as it came.

    fetch_problem(FetchErrorKind.CONNECTION, "http://example.org:8080/feed", None,
                  "could not connect: [Errno 111] Connection refused")
    → "Could not connect to example.org:8080 (connection refused).
       Check the address, or try again later."
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

from feedsvc.vocabulary import FetchErrorKind

# Words in a raw error (an OS, httpx or ssl message) → the cause in a few words.
_CAUSES = (
    (("connection refused",), "connection refused"),
    (("name or service not known", "nodename nor servname", "name resolution",
      "no address associated", "cannot resolve", "getaddrinfo"), "the name does not resolve"),
    (("network is unreachable", "no route to host"), "the network is unreachable"),
    (("connection reset",), "the connection was reset"),
    (("server disconnected", "remote end closed", "remoteprotocolerror", "peer closed"),
     "the server hung up"),
    (("certificate has expired",), "its certificate has expired"),
    (("self signed", "self-signed"), "its certificate is self-signed"),
    (("hostname mismatch", "doesn't match", "does not match"),
     "its certificate is for another name"),
    (("unable to get local issuer", "certificate verify failed"),
     "its certificate is not trusted"),
    (("too many redirects", "redirects"), "too many redirects"),
)  # fmt: skip
_UNRESOLVED = "the name does not resolve"
# The kinds whose words need nothing but the host.
_KIND_WORDS: dict[str, str] = {
    FetchErrorKind.TIMEOUT: ("{host} did not answer in time. Try again later; "
                             "if it keeps happening, the server may be overloaded or down."),
    FetchErrorKind.TOO_LARGE: ("The feed at {host} is larger than feedsvc accepts. Ask the site "
                               "for a shorter feed, or raise FEEDSVC_FETCH_MAX_BYTES."),
    FetchErrorKind.TOO_MANY_REDIRECTS: ("{host} redirected too many times. Open the address in "
                                        "a browser and use the feed's final address."),
    FetchErrorKind.BAD_URL: ("The address is not a web address feedsvc can fetch. "
                             "Check it: it starts with http:// or https:// and names a host."),
    FetchErrorKind.INTERNAL: ("Something went wrong inside feedsvc (an internal error) while "
                              "storing this feed. It will be tried again; if it keeps "
                              "happening, report it with the fetch history."),
}  # fmt: skip


def where(url: str) -> str:
    """The host a person recognises, with its port when the URL names one."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url[:200] or "the server"
    if not host:
        return url[:200] or "the server"
    host = f"[{host}]" if ":" in host else host  # an IPv6 address, as written in a URL
    return f"{host}:{port}" if port else host


def cause(detail: str | None) -> str | None:
    """The cause named by a raw error, in a few words; None when it names none we know."""
    text = (detail or "").lower()
    for needles, words in _CAUSES:
        if any(needle in text for needle in needles):
            return words
    return None


def fetch_problem(
    kind: str | None, url: str, status: int | None = None, detail: str | None = None
) -> str:
    """Why fetching `url` failed and what to do, for an error `kind`
    (`FetchErrorKind`), or the HTTP `status` of an answer that was no success."""
    host = where(url)
    found = cause(detail)
    if kind == FetchErrorKind.CONNECTION or (kind == FetchErrorKind.REFUSED
                                             and found == _UNRESOLVED):  # fmt: skip
        if found == _UNRESOLVED:
            return (f"Could not find {host} (the name does not resolve). "
                    "Check the address for typos, or try again later.")  # fmt: skip
        return (f"Could not connect to {host} ({found or 'no connection'}). "
                "Check the address, or try again later.")  # fmt: skip
    if kind in _KIND_WORDS:
        return _KIND_WORDS[kind].format(host=host)
    if kind == FetchErrorKind.TLS:
        return (f"Could not make a secure connection to {host} "
                f"({found or 'the secure connection failed'}). Check that the address "
                "names the right host, or ask the site to fix its certificate.")  # fmt: skip
    if kind == FetchErrorKind.REFUSED:
        why = (detail or "").removeprefix("refused: ").strip()[:200] or "not a public address"
        return (f"feedsvc refused to fetch {host} ({why}). "
                "Use the feed's public address.")  # fmt: skip
    if kind == FetchErrorKind.PARSE and not _is_not_a_feed(detail):
        # A feed too slow or too broken to read (the parser gave up or crashed).
        return (f"The feed at {host} could not be read ({(detail or 'the parser failed')[:200]}). "
                "It will be tried again; if it keeps happening, ask the site to check "
                "its feed in a feed validator.")  # fmt: skip
    if kind == FetchErrorKind.PARSE:
        return (f"{host} answered with something that is not a feed{_found_instead(detail)}. "
                "Check that the address is the feed's, not a web page's "
                "(Add a source finds a site's feeds for you).")  # fmt: skip
    if status is not None:
        return http_problem(host, status)
    return f"Fetching from {host} failed. Try again later."


def http_problem(host: str, status: int) -> str:
    """An answer with an HTTP status that is no feed, and what to do about it."""
    said = f"HTTP {status} {_reason(status)}".strip()
    if status == 410:
        return (f"{host} says the feed is gone for good ({said}), so it is no longer "
                "fetched. Find the site's new feed, or delete this source.")  # fmt: skip
    if status in (429, 503):
        return (f"{host} asked feedsvc to slow down ({said}). Nothing to do: "
                "it is tried again later, less often.")  # fmt: skip
    if status == 404:
        return (f"{host} has no feed at this address ({said}). Check the address, "
                "or add the source again from the site's own page.")  # fmt: skip
    if status in (401, 403, 407):
        return (f"{host} refused access ({said}). The feed may need a login or "
                "block feed readers; open it in a browser to see.")  # fmt: skip
    if status >= 500:
        return (f"{host} had a server error ({said}). This is usually temporary: "
                "it is tried again later.")  # fmt: skip
    return f"{host} answered {said}, not a feed. Check the address in a browser."


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _is_not_a_feed(detail: str | None) -> bool:
    """Whether the parser's words say the body was no feed at all (parse.NotAFeed)."""
    return not detail or detail.startswith("not a feed")


def _found_instead(detail: str | None) -> str:
    """What the parser found instead, from its words ("not a feed: the server sent …")."""
    if not detail:
        return ""
    said = detail.removeprefix("not a feed: ").strip()
    return f" ({said[:200]})" if said and said != detail.strip() else ""
