"""Pure text work on post content: sanitize HTML, HTML to text, summaries, slugs.

Nothing here does I/O; every function takes a string and returns one.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from contextvars import ContextVar
from typing import TypedDict
from urllib.parse import urljoin, urlsplit

import nh3

from feedsvc.html_depth import (
    BLOCK_TAGS,
    MAX_DEPTH,
    flatten_nesting,
    flatten_serialized,
)

ELLIPSIS = "…"

ALLOWED_TAGS = {
    "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "blockquote",
    "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s",
    "samp", "section", "small", "source", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
    "audio", "video", "track",
}  # fmt: skip

ALLOWED_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes", "loading"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "audio": {"src", "controls", "preload"},
    "video": {"src", "controls", "preload", "poster", "width", "height"},
    "track": {"src", "kind", "srclang", "label"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed", "type"},
    "abbr": {"title"},
}

URL_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
SRCSET_ATTRIBUTES = {"srcset"}
# Removed with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "iframe", "object", "embed"}
LINK_REL = "noopener noreferrer nofollow"


class SanitizerPolicy(TypedDict):
    tags: set[str]
    clean_content_tags: set[str]
    attributes: dict[str, set[str]]
    url_schemes: set[str]
    link_rel: str
    strip_comments: bool


# The sanitizer's policy in one place: what nh3 keeps, drops and adds. Only
# the resolving of relative URLs (against each entry's base) is per call.
SANITIZER_POLICY = SanitizerPolicy(
    tags=ALLOWED_TAGS, clean_content_tags=DROP_WITH_CONTENT, attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES, link_rel=LINK_REL, strip_comments=True,
)  # fmt: skip

_SKIP_TEXT_TAGS = {"script", "style", "noscript", "template", "head", "title"}
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")
# Characters XML 1.0 cannot carry, and lone surrogates (JSON's "\ud800"), which no
# encoder, database or sanitizer accepts.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# Per entry, measured in UTF-8 bytes; longer HTML is cut at a tag boundary.
MAX_CONTENT_BYTES = 1 << 20


# The controls of _XML_ILLEGAL, as bytes: all it can match in ASCII text.
_ASCII_ILLEGAL = bytes(code for code in range(0x20) if chr(code) not in "\t\n\r")


def strip_xml_illegal(text: str) -> str:
    # Most text is clean, and much of it ASCII, which bytes.translate checks
    # five times faster than the pattern's search; search builds no new string.
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_ILLEGAL)) == len(raw):
            return text
    return _XML_ILLEGAL.sub("", text) if _XML_ILLEGAL.search(text) else text


def cap_html(fragment: str, max_bytes: int = MAX_CONTENT_BYTES) -> tuple[str, bool]:
    """The fragment cut to at most `max_bytes` of UTF-8, and whether it was cut.

    The cut falls at a tag boundary: a tag (or entity) the limit splits is left
    out whole; the sanitizer then closes the elements still open."""
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
    if len(fragment) * 4 <= max_bytes:  # no character takes more than 4 bytes
        return fragment, False
    encoded = fragment.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return fragment, False
    cut = max_bytes
    while cut > 0 and encoded[cut] & 0xC0 == 0x80:  # not inside a character
        cut -= 1
    head = encoded[:cut].decode("utf-8", "surrogatepass")
    last_open = head.rfind("<")
    if last_open > head.rfind(">"):
        head = head[:last_open]
    else:
        # An entity cut in two ("&am") would read as text.
        partial = _PARTIAL_ENTITY.search(head, max(0, len(head) - 40))
        if partial:
            head = head[: partial.start()]
    return head, True


_PARTIAL_ENTITY = re.compile(r"&#?[0-9A-Za-z]*\Z")


def sanitize_html(
    fragment: str,
    base_url: str | None = None,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_CONTENT_BYTES,
) -> str:
    """Make upstream HTML safe to embed: an explicit allowlist, absolute URLs,
    rel=noopener on links, and 1×1 tracking images removed.

    Bounded: HTML beyond `max_bytes` is cut (call cap_html first to learn
    whether it was), and nothing in the result nests deeper than `max_depth`."""
    if not fragment:
        return ""
    fragment = flatten_nesting(cap_html(strip_xml_illegal(fragment), max_bytes)[0], max_depth)
    base = _SANITIZING_BASE.set(base_url)
    try:
        cleaned = _SANITIZER.clean(fragment)
    finally:
        _SANITIZING_BASE.reset(base)
    # A numeric character reference (&#1;, &#xFFFF;) brings back what XML cannot
    # carry; no named one does.
    if "&#" in fragment:
        cleaned = strip_xml_illegal(cleaned)
    return _remove_tracking_pixels(flatten_serialized(cleaned, max_depth))


# Sanitized HTML escapes "<" in text and attributes (see sanitize_html), so a
# heading tag can be found by its name alone.
_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b", re.IGNORECASE)


def demote_headings(sanitized_html: str, top: int = 2) -> str:
    """Headings shifted down so the highest is at least `top`: a post's content
    under its page's <h1> never outranks the title. Their order is kept (an
    <h1>, <h2> becomes <h2>, <h3>); nothing goes below <h6>."""
    levels = [int(level) for _, level in _HEADING_TAG.findall(sanitized_html)]
    shift = top - min(levels, default=top)
    if shift <= 0:
        return sanitized_html

    def shifted(match: re.Match[str]) -> str:
        return f"<{match.group(1)}h{min(6, int(match.group(2)) + shift)}"

    return _HEADING_TAG.sub(shifted, sanitized_html)


def _absolute_urls(tag: str, attribute: str, value: str) -> str | None:
    """The sanitizer's attribute filter: URLs made absolute against the base of
    the fragment being sanitized, unsafe ones dropped."""
    if attribute in URL_ATTRIBUTES:
        return absolute_url(value, _SANITIZING_BASE.get())
    if attribute in SRCSET_ATTRIBUTES:
        return _absolute_srcset(value, _SANITIZING_BASE.get())
    return value


# Built once: nh3.clean builds its policy anew on every call, which costs a
# short post eight times what sanitizing it does. The base URL is the one thing
# per call, so the filter reads it from the caller's context (each thread has its own).
_SANITIZING_BASE: ContextVar[str | None] = ContextVar("sanitizing_base", default=None)
_SANITIZER = nh3.Cleaner(attribute_filter=_absolute_urls, **SANITIZER_POLICY)
# Every tag dropped, script and style with their text: a fragment's words.
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=_SKIP_TEXT_TAGS, attributes={})


def absolute_url(value: str, base_url: str | None) -> str | None:
    """Resolve a URL against the base; None (attribute dropped) for unsafe schemes."""
    value = value.strip()
    if not value:
        return None
    resolved = urljoin(base_url, value) if base_url else value
    scheme = urlsplit(resolved).scheme.lower()
    if scheme and scheme not in URL_SCHEMES:
        return None
    return resolved


def _absolute_srcset(value: str, base_url: str | None) -> str | None:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(None, 1)
        if not parts:
            continue
        url = absolute_url(parts[0], base_url)
        if url is None:
            continue
        candidates.append(" ".join([url, *parts[1:]]))
    return ", ".join(candidates) or None


# Sanitized HTML double-quotes every value, and a value may hold a ">".
_IMG_TAG = re.compile(r'<img\b(?:[^>"]|"[^"]*+")*+>', re.IGNORECASE)
_DIMENSION = re.compile(r'\b(width|height)="\s*(\d+)(?:px)?\s*"', re.IGNORECASE)


def _remove_tracking_pixels(fragment: str) -> str:
    def replace(match: re.Match[str]) -> str:
        dims = {name.lower(): int(size) for name, size in _DIMENSION.findall(match.group(0))}
        if dims and all(dims.get(name, 1) <= 1 for name in ("width", "height")):
            return ""
        return match.group(0)

    return _IMG_TAG.sub(replace, fragment)


_BLOCK_TAG = re.compile(r"</?(?:" + "|".join(sorted(BLOCK_TAGS)) + r")\b", re.IGNORECASE)


def html_to_text(fragment: str, max_bytes: int = MAX_CONTENT_BYTES) -> str:
    """Visible text of an HTML fragment (of its first `max_bytes`), whitespace
    collapsed to single spaces."""
    if not fragment:
        return ""
    fragment = cap_html(strip_xml_illegal(fragment), max_bytes)[0]
    if "<" not in fragment and "&" not in fragment:
        return normalize_space(fragment)
    # Blocks become spaces so words in adjacent paragraphs don't run together;
    # nh3 (html5ever) then drops every tag, and script/style with their text.
    spaced = flatten_nesting(_BLOCK_TAG.sub(lambda m: " " + m.group(0), fragment))
    text = _TEXT_ONLY.clean(spaced)
    return normalize_space(_unescape_text(text))


# A tag as html5ever serializes it (the sanitizer's output): every attribute
# value double-quoted, and a value may hold a ">".
_SERIALIZED_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:[^>"]|"[^"]*+")*+>')


def sanitized_text(fragment: str) -> str:
    """Visible text of HTML that sanitize_html made, whitespace collapsed: what
    html_to_text gives for it, at half the cost.

    Only for that HTML: its comments, scripts and styles are gone, its tags and
    escapes are html5ever's, so dropping tags and four escapes is exact. Any
    other HTML goes through html_to_text."""
    # sanitize_html took out what XML cannot carry: only the spaces to collapse.
    if "<" not in fragment and "&" not in fragment:
        return _collapse_space(fragment)
    text = _SERIALIZED_TAG.sub(_tag_gap, fragment)
    return _collapse_space(_unescape_text(text))


def sanitized_leading_text(fragment: str, limit: int) -> str:
    """The start of sanitized_text's answer, enough for a summary of `limit`
    characters (see choose_summary): a long post's whole text is not made for
    the 300 characters a summary keeps.

    The slice ends before a "<", which in sanitized HTML only starts a tag, so
    no tag or escape is cut; its last word may be, far past the summary's cut."""
    window = limit * 3
    if len(fragment) > window:
        cut = fragment.rfind("<", 0, window)
        if cut > 0:
            text = sanitized_text(fragment[:cut])
            if len(text) > limit + 100:
                return text
    return sanitized_text(fragment)


def _tag_gap(tag: re.Match[str]) -> str:
    # Blocks become spaces, so words in adjacent paragraphs don't run together.
    return " " if tag.group(2).lower() in BLOCK_TAGS else ""


def _unescape_text(serialized: str) -> str:
    """Text as html5ever serializes it has only these four escapes; replacing them
    is exact, and unlike html.unescape stays fast with millions of them."""
    if "&" not in serialized:
        return serialized
    return (
        serialized.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u00a0")
        .replace("&amp;", "&")
    )


def normalize_space(text: str) -> str:
    # Collapsed first: a vertical tab, a form feed and U+001C–U+001F are spaces
    # to a reader (and to str.split), though XML cannot carry them.
    collapsed = _collapse_space(text)
    clean = strip_xml_illegal(collapsed)
    return collapsed if clean is collapsed else _collapse_space(clean)


def _collapse_space(text: str) -> str:
    return " ".join(text.split())


def truncate_text(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters (ellipsis included), at a
    sentence end when one falls late enough, else at a word boundary; never
    mid-word. Text that fits is returned unchanged."""
    return _truncate_normalized(normalize_space(text), limit)


def _truncate_normalized(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = _word_cut(text, limit)
    # Prefer ending on a sentence if that keeps most of the text.
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(cut + " ")]
    if sentence_ends and sentence_ends[-1] >= len(cut) * 0.6:
        return (cut + " ")[: sentence_ends[-1]].rstrip()
    cut = cut.rstrip(" ,;:-–—")
    return cut + ELLIPSIS if cut else ELLIPSIS


def snippet(text: str, limit: int) -> str:
    """Like truncate_text, but a cut text always ends in an ellipsis: the
    widget's snippets say plainly that there is more."""
    text = normalize_space(text)
    if len(text) <= limit:
        return text
    cut = _word_cut(text, limit).rstrip(" ,;:-–—.")
    return cut + ELLIPSIS if cut else ELLIPSIS


def _word_cut(text: str, limit: int) -> str:
    """The longest run of whole words that leaves room for an ellipsis."""
    room = text[: limit - 1]
    # The cut is clean if it lands on a space or the next character is one.
    if text[limit - 1].isspace():
        return room
    space = room.rfind(" ")
    return room[:space] if space > 0 else ""


def summarize(summary_html: str | None, content_html: str | None, limit: int) -> str:
    """A plain-text summary: the entry's own summary when it is real text and not
    just the start of the content, else text derived from the content."""
    summary_html = cap_html(summary_html)[0] if summary_html else ""
    content_html = cap_html(content_html)[0] if content_html else ""
    own = leading_text(summary_html, limit)
    # RSS often carries one text as both: convert it once.
    body = own if content_html == summary_html else leading_text(content_html, limit)
    return choose_summary(own, body, limit)


def choose_summary(own: str, body: str, limit: int) -> str:
    """Of the entry's own summary text and its content's text, the summary.

    Both as leading_text or sanitized_leading_text give them, spaces
    collapsed: the content's text is not normalized a second time."""
    text = own if len(own) >= 20 or not body else body
    return _truncate_normalized(text, limit)


def leading_text(fragment: str, limit: int) -> str:
    """Enough of the fragment's text for a summary of `limit` characters.

    Long posts are converted from their start only: a cut tag or entity at the
    end of the slice is far past the point the summary is cut at. Where the
    slice has too little text (markup-heavy HTML), the whole is converted.
    """
    window = max(limit * 8, 2048)
    if len(fragment) > window:
        text = html_to_text(fragment[:window])
        if len(text) > limit + 100:
            return text
    return html_to_text(fragment)


def slugify(text: str, max_length: int = 80, fallback: str = "post") -> str:
    """A URL slug: ASCII where possible, lower case, words joined by hyphens;
    `fallback` when the text has no ASCII letter or digit to make one of."""
    normalized = unicodedata.normalize("NFKD", text)
    ascii_text = normalized.encode("ascii", "ignore").decode("ascii").lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or fallback


def author_slug(name: str | None) -> str | None:
    """The address of an author's page: their name as a slug, or (a name with no
    ASCII letter or digit) a short hash of it, so that no two such names share one."""
    name = normalize_space(name or "")
    if not name:
        return None
    return (
        slugify(name, max_length=100, fallback="")
        or "a-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    )


_IMG_SRC = re.compile(r'<img\b(?:[^>"]|"[^"]*+")*?\ssrc="([^"]+)"', re.IGNORECASE)


def first_image(sanitized_html: str) -> str | None:
    """The first image's URL in already sanitized HTML (attributes double-quoted)."""
    match = _IMG_SRC.search(sanitized_html or "")
    return html.unescape(match.group(1)) if match else None


def first_image_size(sanitized_html: str) -> tuple[int, int] | None:
    """The width and height attributes of the first image, when it has both."""
    tag = next((m.group(0) for m in _IMG_TAG.finditer(sanitized_html or "")
                if _IMG_SRC.match(m.group(0))), None)  # fmt: skip
    if tag is None:
        return None
    dims = {name.lower(): int(size) for name, size in _DIMENSION.findall(tag)}
    width, height = dims.get("width", 0), dims.get("height", 0)
    if not (1 < width < 100_000 and 1 < height < 100_000):
        return None
    return width, height


def content_hash(*parts: str | None) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()
