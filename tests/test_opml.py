"""OPML in and out: bad lines reported with their line, the good ones imported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import listparser
import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.models import Source
from feedsvc.opml import OpmlError, export_opml, import_opml, parse_opml
from feedsvc.sources import add_source

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

MESSY = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Tech">
      <outline text="Python">
        <outline type="rss" text="Planet Python" xmlUrl="https://planetpython.example/rss20.xml"/>
      </outline>
      <outline type="rss" text="LWN" xmlUrl="https://lwn.example/headlines/rss"/>
    </outline>
    <outline type="rss" text="Broken" xmlUrl="ftp://files.example/feed"/>
    <outline type="rss" text="LWN again" xmlUrl="https://lwn.example/headlines/rss"/>
    <outline type="rss" text="Known" xmlUrl="https://known.example/feed"/>
    <outline type="rss" text="Empty" xmlUrl=""/>
    <outline text="News">
      <outline type="rss" text="Daily &amp; Weekly" xmlUrl="https://news.example/feed?a=1&amp;b=2"/>
    </outline>
  </body>
</opml>
"""


def test_import_keeps_the_good_lines_and_reports_the_rest(db: Database) -> None:
    with db.session() as session:
        add_source(session, "https://known.example/feed", NOW)
    with db.session() as session:
        report = import_opml(session, MESSY, NOW)
    assert [url for _, url in report.added] == [
        "https://planetpython.example/rss20.xml",
        "https://lwn.example/headlines/rss",
        "https://news.example/feed?a=1&b=2",
    ]
    assert report.duplicates == ["https://lwn.example/headlines/rss", "https://known.example/feed"]
    assert report.describe_errors() == [
        "line 11: not an http(s) URL: 'ftp://files.example/feed'",
        "line 14: an outline with an empty xmlUrl",
    ]
    with db.session() as session:
        by_url = {s.feed_url: s for s in session.scalars(select(Source))}
        # Nested folders become tags, every level of them.
        assert sorted(t.name for t in by_url["https://planetpython.example/rss20.xml"].tags) == [
            "Python", "Tech"]  # fmt: skip
        assert [t.name for t in by_url["https://news.example/feed?a=1&b=2"].tags] == ["News"]
        assert by_url["https://news.example/feed?a=1&b=2"].title == "Daily & Weekly"
        assert len(by_url) == 4


def test_xml_that_breaks_midway_imports_what_came_before(db: Database) -> None:
    data = (b'<opml version="2.0"><body>\n<outline xmlUrl="https://a.example/feed"/>\n'
            b'<outline xmlUrl="https://b.example/feed">\n</body></opml>')  # fmt: skip
    with db.session() as session:
        report = import_opml(session, data, NOW)
    assert [url for _, url in report.added][:1] == ["https://a.example/feed"]
    assert report.errors and report.errors[0][0] == 4
    assert "not well-formed" in report.errors[0][1]


@pytest.mark.parametrize("data, reason", [
    (b"just some text", "not an OPML file: line 1"),
    (b"<html><body><p>hello</p></body></html>", "no feeds in this file"),
    (b"", "not an OPML file"),
])  # fmt: skip
def test_files_that_are_not_opml_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(OpmlError, match=reason):
        parse_opml(data)


def test_export_round_trips_through_listparser(db: Database) -> None:
    with db.session() as session:
        import_opml(session, MESSY, NOW)
        add_source(session, "https://plain.example/feed", NOW, title="Plain",
                   site_url="https://plain.example/")  # fmt: skip
    with db.session() as session:
        exported = export_opml(session, "Test", NOW)
        expected = {s.feed_url: (s.display_title, sorted(t.name for t in s.tags))
                    for s in session.scalars(select(Source))}  # fmt: skip
    parsed = listparser.parse(exported)
    assert not parsed.bozo
    assert {f.url: (f.title, sorted(f.tags)) for f in parsed.feeds} == expected
    # And importing the export into an empty service gives the same sources back.
    with db.session() as session:
        for source in session.scalars(select(Source)):
            session.delete(source)
    with db.session() as session:
        report = import_opml(session, exported, NOW)
    assert len(report.added) == len(expected) and not report.errors


def test_cli_import_and_export(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "subs.opml"
    path.write_bytes(MESSY)
    result = runner.invoke(args=["sources", "import-opml", str(path)])
    # Bad lines make the exit status non-zero, but the good lines are in.
    assert result.exit_code == 1
    assert "4 added, 1 duplicates skipped, 2 errors" in result.output
    assert f"{path}: line 11: not an http(s) URL" in result.output
    assert "Traceback" not in result.output
    out = tmp_path / "out.opml"
    assert runner.invoke(args=["sources", "export-opml", "-o", str(out)]).exit_code == 0
    assert len(listparser.parse(out.read_bytes()).feeds) == 4
    again = runner.invoke(args=["sources", "import-opml", str(out)])
    assert again.exit_code == 0 and "0 added, 4 duplicates skipped, 0 errors" in again.output


def test_cli_import_of_a_missing_or_bad_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(args=["sources", "import-opml", str(tmp_path / "nope.opml")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"<<<not xml")
    result = runner.invoke(args=["sources", "import-opml", str(bad)])
    assert result.exit_code == 1 and "not an OPML file" in result.output
