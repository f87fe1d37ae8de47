"""A WebSub hub written for the tests, on 127.0.0.1: it takes subscription
requests at /hub (answering 202), and verifies or delivers when a test says so,
as a real hub would, over HTTP to the subscription's callback."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

import httpx

from tests.feedserver import FeedServer, Reply, Seen


class Hub:
    def __init__(self, server: FeedServer, path: str = "/hub") -> None:
        self.server = server
        self.url = server.url(path)
        self.requests: list[dict[str, str]] = []
        self.answer = Reply(202)
        server.routes[path] = self._take

    def _take(self, seen: Seen) -> Reply:
        form = {name: values[0] for name, values in parse_qs(seen.body.decode()).items()}
        self.requests.append(form)
        return self.answer

    def last(self, mode: str = "subscribe") -> dict[str, str]:
        return [form for form in self.requests if form["hub.mode"] == mode][-1]

    def verify(
        self, form: dict[str, str], mode: str | None = None, *, topic: str | None = None,
        lease: int | None = 100, challenge: str = "a-challenge-0123",
    ) -> httpx.Response:  # fmt: skip
        """Ask the subscriber to confirm the request `form` (as the hub received it)."""
        params = {"hub.mode": mode or form["hub.mode"], "hub.topic": topic or form["hub.topic"],
                  "hub.challenge": challenge}  # fmt: skip
        if lease is not None:
            params["hub.lease_seconds"] = str(lease)
        return httpx.get(form["hub.callback"], params=params, timeout=10)

    def deliver(
        self, form: dict[str, str], body: bytes, *, secret: str | None = None,
        method: str = "sha256", content_type: str = "application/atom+xml",
    ) -> httpx.Response:  # fmt: skip
        """Push `body` to the subscriber, signed with the subscription's secret
        (or `secret`, to forge one)."""
        key = (secret if secret is not None else form["hub.secret"]).encode()
        signature = hmac.new(key, body, getattr(hashlib, method)).hexdigest()
        links = f'<{self.url}>; rel="hub", <{form["hub.topic"]}>; rel="self"'
        headers = {"Content-Type": content_type, "X-Hub-Signature": f"{method}={signature}",
                   "Link": links}  # fmt: skip
        return httpx.post(form["hub.callback"], content=body, headers=headers, timeout=10)


def atom(hub: str, self_url: str, entries: list[tuple[str, str]]) -> bytes:
    """An Atom feed naming `hub` and itself, with (id, title) entries."""
    items = "".join(
        f"<entry><id>urn:x:{key}</id><title>{title}</title><link href='http://example.org/{key}'/>"
        f"<updated>2026-11-24T10:00:00Z</updated><content type='html'>&lt;p&gt;{title} text"
        "&lt;/p&gt;</content></entry>"
        for key, title in entries
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>Pushed</title><id>urn:x:feed</id><updated>2026-11-24T10:00:00Z</updated>"
        f"<link rel='hub' href='{hub}'/><link rel='self' href='{self_url}'/>{items}</feed>"
    ).encode()
