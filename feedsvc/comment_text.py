"""A comment's plain text as a reader sees it: escaped, paragraphs and line
breaks kept, bare http(s) addresses made links. Pure.

Commenters write no HTML: whatever they type is shown as text, so nothing they
write can add markup, attributes or script to a page or a feed.
"""

from __future__ import annotations

import functools
import re
from html import escape

# An address runs to the next space, quote or angle bracket; punctuation that
# ends a sentence is left out of it.
URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Links a reader's comment may carry before it waits for an admin.
LINK_TEXT = re.compile(r"https?://|www\.|<a\s", re.IGNORECASE)


def count_links(text: str) -> int:
    """The addresses in a comment, written out or as markup someone hoped would work."""
    return len(LINK_TEXT.findall(text))


def normalize(text: str) -> str:
    """Line endings unified, control characters and trailing spaces gone,
    at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    lines = [line.rstrip() for line in text.split("\n")]
    return PARAGRAPH_BREAK.sub("\n\n", "\n".join(lines)).strip()


@functools.lru_cache(maxsize=4096)
def to_html(text: str) -> str:
    """Paragraphs of escaped text with their addresses linked (rel=nofollow ugc).
    Kept for the texts a process shows often: pages with hundreds of comments
    are rendered on every request."""
    paragraphs = PARAGRAPH_BREAK.split(text.strip()) if text.strip() else []
    return "".join(
        "<p>" + "<br>".join(_linked(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def _linked(line: str) -> str:
    out: list[str] = []
    last = 0
    for match in URL.finditer(line):
        url = match.group(0)
        stripped = url.rstrip(TRAILING)
        # A closing bracket belongs to the address when it opened one too.
        while url[len(stripped) :].startswith(")") and stripped.count("(") > stripped.count(")"):
            stripped += ")"
        out.append(escape(line[last : match.start()]))
        href = escape(stripped, quote=True)
        out.append(f'<a href="{href}" rel="nofollow ugc noopener noreferrer">{href}</a>')
        last = match.start() + len(stripped)
    out.append(escape(line[last:]))
    return "".join(out)
