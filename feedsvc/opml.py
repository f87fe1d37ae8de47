"""OPML 2.0 subscription lists: export the sources, import someone else's.

Reading is listparser's job (it copes with the OPML found in the wild); a
second pass with expat only finds the line each outline is on, so that a bad
entry can be reported where the admin can find it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from xml.etree import ElementTree
from xml.parsers import expat

import listparser
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from feedsvc.errors import FeedsvcError
from feedsvc.models import Source
from feedsvc.urls import web_url

MAX_BYTES = 5 * 1024 * 1024


class OpmlError(FeedsvcError):
    """The file is not an OPML subscription list at all."""

    title = "Not an OPML file"

    def __init__(self, message: str) -> None:
        super().__init__(message, "file")


def render_opml(
    title: str, sources: Iterable[Source], now: dt.datetime, *, with_tags: bool = False
) -> bytes:
    """OPML 2.0; with tags, each source sits in a folder named after its first
    tag and lists them all in `category`, which listparser reads back."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = ElementTree.SubElement(root, "body")
    folders: dict[str, ElementTree.Element] = {}
    for source in sources:
        # Rows stored before the http(s) rule held may not honour it: leave those URLs out.
        feed_url, site_url = web_url(source.feed_url), web_url(source.site_url)
        if feed_url is None:
            continue
        attributes = {"type": "rss", "text": source.display_title, "title": source.display_title,
                      "xmlUrl": feed_url}  # fmt: skip
        if site_url:
            attributes["htmlUrl"] = site_url
        parent = body
        names = [tag.name for tag in source.tags] if with_tags else []
        if names:
            attributes["category"] = ",".join("/" + name.replace(",", " ") for name in names)
            if names[0] not in folders:
                folders[names[0]] = ElementTree.SubElement(
                    body, "outline", {"text": names[0], "title": names[0]}
                )
            parent = folders[names[0]]
        ElementTree.SubElement(parent, "outline", attributes)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def export_opml(session: Session, site_title: str, now: dt.datetime) -> bytes:
    """Every source with its tags, by id: the admin's export."""
    query = select(Source).options(selectinload(Source.tags)).order_by(Source.id)
    return render_opml(f"{site_title} sources", session.scalars(query).all(), now,
                       with_tags=True)  # fmt: skip


@dataclass(frozen=True)
class OpmlEntry:
    url: str
    title: str
    tags: tuple[str, ...]
    line: int | None


@dataclass
class ImportReport:
    added: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    # (line or None, what was wrong)
    errors: list[tuple[int | None, str]] = field(default_factory=list)

    def describe_errors(self) -> list[str]:
        return [f"line {line}: {text}" if line else text for line, text in self.errors]


def parse_opml(data: bytes) -> tuple[list[OpmlEntry], list[tuple[int | None, str]]]:
    """The feeds in an OPML file, each with its line; and what was wrong with the file."""
    if len(data) > MAX_BYTES:
        raise OpmlError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    lines, broken = _outline_lines(data)
    parsed = listparser.parse(data)
    problems: list[tuple[int | None, str]] = []
    if not parsed.feeds:
        if broken is not None:
            raise OpmlError(f"not an OPML file: line {broken[0]}: {broken[1]}")
        raise OpmlError("no feeds in this file: no outline has an xmlUrl")
    if broken is not None:
        problems.append((broken[0], f"{broken[1]}; the outlines after it may be missing"))
    entries = []
    for feed in parsed.feeds:
        url = str(feed.get("url") or "").strip()
        queue = lines.get(url)
        line = queue.popleft() if queue else None
        # Every folder on the way down is a tag: Tech/Python gives both.
        names = [name for path in feed.get("categories", []) for name in path]
        names += feed.get("tags", [])
        tags = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
        entries.append(OpmlEntry(url, str(feed.get("title") or "").strip(), tags, line))
    # listparser merges outlines listing one URL twice; report the repeats.
    for url, repeats in lines.items():
        entries.extend(OpmlEntry(url, "", (), line) for line in repeats)
    entries.sort(key=lambda entry: (entry.line is None, entry.line or 0))
    return entries, problems


def _outline_lines(data: bytes) -> tuple[dict[str, deque[int]], tuple[int, str] | None]:
    """Line numbers of the outlines with an xmlUrl, by URL; and where the XML breaks."""
    lines: dict[str, deque[int]] = defaultdict(deque)
    parser = expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.lower() == "outline":
            url = next((v for k, v in attrs.items() if k.lower() == "xmlurl"), None)
            if url is not None:
                lines[url.strip()].append(parser.CurrentLineNumber)

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        return lines, (exc.lineno, f"the XML is not well-formed ({expat.ErrorString(exc.code)})")
    return lines, None


def import_opml(
    session: Session,
    data: bytes,
    now: dt.datetime,
    *,
    on_entry: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Add every feed of the file that is new; skip and report duplicates and bad lines."""
    entries, problems = parse_opml(data)
    return import_parsed(session, entries, problems, now, on_entry=on_entry)


def import_parsed(
    session: Session,
    entries: Sequence[OpmlEntry],
    problems: Sequence[tuple[int | None, str]],
    now: dt.datetime,
    *,
    on_entry: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """`import_opml` for a file parsed already (by `parse_opml`)."""
    report = ImportReport(errors=list(problems))
    return import_entries(session, entries, now, report, on_entry=on_entry)


def import_entries(
    session: Session,
    entries: Sequence[OpmlEntry],
    now: dt.datetime,
    report: ImportReport | None = None,
    *,
    seen: Iterable[str] = (),
    on_entry: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Add each entry's feed if it is new; skip and report duplicates and bad lines.

    Each source is added in a savepoint, so a bad one never undoes the good ones.
    `seen` holds the URLs of the file's entries before these (a job working
    through a file in chunks passes those it has done), so a repeat is a duplicate.
    """
    from feedsvc.sources import SourceError, SourceExists, add_source, update_source

    report = report if report is not None else ImportReport()
    seen = set(seen)
    for done, entry in enumerate(entries, 1):
        if on_entry is not None:
            on_entry(done, len(entries))
        if not entry.url:
            report.errors.append((entry.line, "an outline with an empty xmlUrl"))
            continue
        if entry.url in seen:
            report.duplicates.append(entry.url)
            continue
        seen.add(entry.url)
        savepoint = session.begin_nested()
        try:
            source = add_source(session, entry.url, now, title=entry.title)
            if entry.tags:
                update_source(session, source, now, tags=entry.tags)
            savepoint.commit()
            report.added.append((source.id, source.feed_url))
        except SourceExists:
            savepoint.rollback()
            report.duplicates.append(entry.url)
        except SourceError as exc:
            savepoint.rollback()
            report.errors.append((entry.line, f"{exc}"))
    return report
