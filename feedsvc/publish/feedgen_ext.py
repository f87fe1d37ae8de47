"""A feedgen entry extension for what feedgen 1.0 gets wrong or leaves out:
entry links keep their rel in Atom, and a republished entry's origin is a full
atom:source (id, title, links, updated) or RSS <source url>."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

NAMESPACE = "feedsvc"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# Comments: RFC 4685 (Atom threading), and RSS's Well-Formed Web and Slash modules.
THR_NS = "http://purl.org/syndication/thread/1.0"
WFW_NS = "http://wellformedweb.org/CommentAPI/"
SLASH_NS = "http://purl.org/rss/1.0/modules/slash/"
THR_COUNT = f"{{{THR_NS}}}count"


def _explicit(parent: etree._Element, explicit: bool | None) -> None:
    """itunes:explicit as Apple and the W3C validator want it now: true or false
    (feedgen's podcast extension writes only the old yes/no/clean)."""
    if explicit is not None:
        etree.SubElement(parent, f"{{{ITUNES_NS}}}explicit").text = "true" if explicit else "false"


ATOM_NS = "http://www.w3.org/2005/Atom"


class FeedsvcFeedExtension(BaseExtension):
    """feedgen writes only rel=self as atom:link in RSS; hubs and RFC 5005
    paging links need to be there too."""

    def __init__(self) -> None:
        self.rss_links: list[dict[str, str]] = []
        self.itunes_explicit: bool | None = None
        # Some entry carries comment links: declare their namespaces on the root.
        self.threads = False

    def extend_ns(self) -> dict[str, str]:
        if not self.threads:
            return {}
        return {"thr": THR_NS, "wfw": WFW_NS, "slash": SLASH_NS}

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        channel = rss.find("channel")
        assert channel is not None
        for link in self.rss_links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", link)
        _explicit(channel, self.itunes_explicit)
        return rss


class FeedsvcEntryExtension(BaseEntryExtension):
    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.origin: Any = None
        self.itunes_explicit: bool | None = None
        self.in_reply_to: Any = ()
        self.comment_feed: str | None = None
        self.comment_count: int | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        _html_title(entry)
        # feedgen builds Atom with unqualified names under a default namespace.
        for old in entry.findall("link"):
            entry.remove(old)
        for link in self.links:
            etree.SubElement(entry, "link", link)
        if self.origin is not None:
            source = etree.SubElement(entry, "source")
            origin = self.origin
            if origin.feed_id:
                etree.SubElement(source, "id").text = origin.feed_id
            etree.SubElement(source, "title").text = origin.title
            if origin.site_url:
                etree.SubElement(source, "link", {"rel": "alternate", "href": origin.site_url})
            etree.SubElement(source, "link", {"rel": "self", "href": origin.feed_url})
            if origin.updated:
                etree.SubElement(source, "updated").text = _rfc3339(origin.updated)
        for target in self.in_reply_to:
            answered = {"ref": target.ref, "href": target.href, "type": "text/html"}
            etree.SubElement(entry, f"{{{THR_NS}}}in-reply-to", answered)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        if self.origin is not None:
            source = etree.SubElement(item, "source", {"url": self.origin.feed_url})
            source.text = self.origin.title
        if self.comment_feed is not None:
            etree.SubElement(item, f"{{{WFW_NS}}}commentRss").text = self.comment_feed
            etree.SubElement(item, f"{{{SLASH_NS}}}comments").text = str(self.comment_count or 0)
        _explicit(item, self.itunes_explicit)
        return item


# Text a reader could take for markup: an end tag ("</b>") or an entity ("&copy").
_LOOKS_LIKE_HTML = re.compile(r"</\w+>|&#?\w+")


def _html_title(entry: etree._Element) -> None:
    """A text title that reads like markup declared as escaped HTML, so no reader
    (nor the W3C validator) takes it for undeclared HTML; others stay plain text."""
    title = entry.find("title")
    if title is not None and title.text and _LOOKS_LIKE_HTML.search(title.text):
        title.set("type", "html")
        title.text = html.escape(title.text, quote=False)


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
