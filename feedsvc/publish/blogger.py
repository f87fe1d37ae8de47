"""Blogger's JSON feed shape, for the widgets that read it. Pure.

Blogger answers `alt=json` on its feed addresses with its Atom feed turned into
JSON the GData way: every element an object, its text under `"$t"`, its
attributes as keys, a namespace prefix joined with `$` (`openSearch$totalResults`,
`media$thumbnail`). Widgets read `feed.entry[i].title.$t`, the `link` whose
`rel` is `alternate`, `published.$t`, `category[].term`, `media$thumbnail.url`,
`content.$t` or `summary.$t`, and `feed.openSearch$totalResults.$t` to page;
this module writes exactly that from the same `FeedSpec` and `FeedEntry`
values the other formats are written from. `alt=json-in-script` wraps it in a
call of a callback whose name is checked strictly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feedsvc.publish.feeds import FeedEntry, FeedSpec
from feedsvc.version import __version__

JSON = "blogger-json"
SCRIPT = "blogger-script"
FORMATS = (JSON, SCRIPT)
# Blogger's alt= values, by format.
ALT = {JSON: "json", SCRIPT: "json-in-script"}
CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    SCRIPT: "text/javascript; charset=utf-8",
}
# What Blogger calls when no callback is named.
DEFAULT_CALLBACK = "gdata.io.handleScriptLoaded"
# Names and dotted paths of names: letters, digits, _ and $, joined by dots.
_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*")
MAX_CALLBACK = 100
LABEL_SCHEME = "http://www.blogger.com/atom/ns#"
THUMBNAIL_SIZE = "72"


class UnsafeCallback(ValueError):
    """The callback is not a plain (dotted) JavaScript name."""


def check_callback(name: str) -> str:
    """The name if it can only be a function's name: letters, digits, `_`, `.`
    and `$`, no empty part, no leading digit, at most MAX_CALLBACK long."""
    if len(name) > MAX_CALLBACK or not _CALLBACK.fullmatch(name):
        raise UnsafeCallback(
            "callback must be a JavaScript name: letters, digits, _, $ and dots between names,"
            f" at most {MAX_CALLBACK} characters"
        )
    return name


@dataclass(frozen=True)
class Paging:
    """openSearch's figures: the feed's total, this page's first (1-based) and size."""

    total: int
    start_index: int
    per_page: int


def document(spec: FeedSpec, entries: Sequence[FeedEntry], paging: Paging) -> dict[str, Any]:
    links = [
        {"rel": "http://schemas.google.com/g/2005#feed", "type": "application/atom+xml",
         "href": spec.paging.get("first", spec.self_url)},
        {"rel": "self", "type": "application/atom+xml", "href": spec.self_url},
        {"rel": "alternate", "type": "text/html", "href": spec.alternate_url},
        *({"rel": "hub", "href": hub} for hub in spec.hubs),
        *({"rel": rel, "type": "application/atom+xml", "href": spec.paging[rel]}
          for rel in ("previous", "next") if rel in spec.paging),
    ]  # fmt: skip
    feed: dict[str, Any] = {
        "xmlns": "http://www.w3.org/2005/Atom",
        "xmlns$openSearch": "http://a9.com/-/spec/opensearchrss/1.0/",
        "xmlns$blogger": "http://schemas.google.com/blogger/2008",
        "xmlns$gd": "http://schemas.google.com/g/2005",
        "xmlns$thr": "http://purl.org/syndication/thread/1.0",
        "id": _t(spec.id),
        "updated": _t(_time(spec.updated)),
        "category": [],
        "title": {"type": "text", "$t": spec.title},
        "subtitle": {"type": "html", "$t": spec.subtitle},
        "link": links,
        "author": [_author(spec.author)],
        "generator": {"version": __version__, "$t": "feedsvc"},
        "openSearch$totalResults": _t(str(paging.total)),
        "openSearch$startIndex": _t(str(paging.start_index)),
        "openSearch$itemsPerPage": _t(str(paging.per_page)),
        "entry": [_entry(entry) for entry in entries],
    }
    return {"version": "1.0", "encoding": "UTF-8", "feed": feed}


def _entry(entry: FeedEntry) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": _t(entry.id),
        "published": _t(_time(entry.published)),
        "updated": _t(_time(entry.updated)),
        "category": [{"scheme": LABEL_SCHEME, "term": term} for term in entry.categories],
        "title": {"type": "text", "$t": entry.title},
    }
    if entry.content_html is not None:
        found["content"] = {"type": "html", "$t": entry.content_html}
    else:
        found["summary"] = {"type": "text", "$t": entry.summary}
    found["link"] = [
        {"rel": "self", "type": "application/atom+xml", "href": entry.url},
        {"rel": "alternate", "type": "text/html", "href": entry.url, "title": entry.title},
    ]
    found["author"] = [_author(name) for name in entry.authors] or [_author("")]
    if entry.image:
        found["media$thumbnail"] = {"xmlns$media": "http://search.yahoo.com/mrss/",
                                    "url": entry.image, "height": THUMBNAIL_SIZE,
                                    "width": THUMBNAIL_SIZE}  # fmt: skip
    found["thr$total"] = _t("0")
    return found


def _author(name: str) -> dict[str, Any]:
    return {"name": _t(name or "Unknown"), "email": _t("noreply@blogger.com")}


def _t(value: str) -> dict[str, str]:
    return {"$t": value}


def _time(value: dt.datetime) -> str:
    """Blogger's form: milliseconds and an offset (UTC here)."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def render(fmt: str, doc: dict[str, Any], callback: str | None = None) -> bytes:
    """JSON, or a script calling `callback` with it. Either way `<`, `>`, `&`
    and the line separators are escaped, so the text cannot end a <script>."""
    body = json.dumps(doc, ensure_ascii=True, separators=(",", ":"))
    body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if fmt == SCRIPT:
        name = check_callback(callback or DEFAULT_CALLBACK)
        return f"// API callback\n{name}({body});".encode("ascii")
    return body.encode("ascii")
