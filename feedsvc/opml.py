"""OPML 2.0 subscription lists of sources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from email.utils import format_datetime
from xml.etree import ElementTree

from feedsvc.models import Source


def render_opml(title: str, sources: Iterable[Source]) -> bytes:
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(
        dt.datetime.now(dt.UTC), usegmt=True
    )
    body = ElementTree.SubElement(root, "body")
    for source in sources:
        attributes = {"type": "rss", "text": source.display_title, "title": source.display_title,
                      "xmlUrl": source.feed_url}  # fmt: skip
        if source.site_url:
            attributes["htmlUrl"] = source.site_url
        ElementTree.SubElement(body, "outline", attributes)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
