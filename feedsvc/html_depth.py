"""Bounds on hostile markup: flatten nesting beyond a depth, linearly.

html5ever (inside nh3) walks the stack of open elements for most tags, so its
time grows with the square of the nesting depth: <div>×40,000 took 11 s.
`flatten_nesting` runs *before* nh3: a linear pass that follows the HTML5
tokenizer and, roughly, its tree builder, dropping tags that would open an
element deeper than MAX_DEPTH (their text is kept). nh3 stays the only safety
gate; this pass only removes tags, and `flatten_serialized` flattens nh3's
well-formed output again, exactly. Pure: strings in, strings out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Blocks: a tag of one that is dropped leaves a space, so words stay apart.
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
    "section", "summary", "table", "td", "th", "tr", "ul",
}  # fmt: skip

MAX_DEPTH = 512
# HTML5 re-opens unclosed formatting elements (b, i, …) in every later block; a few
# hundred never-closed ones would multiply the output, so at most this many are open.
MAX_OPEN_FORMATTING = 16

_WS = "\t\n\f\r "
# The next tag as the HTML5 tokenizer reads it (quotes only count after "="), or
# the start of a comment. Possessive, so it never backtracks; a tag is complete
# when it ends in ">".
_TOKEN = re.compile(
    r"""<(?:
    (/?)([A-Za-z][^\t\n\f\r />]*+)
    (?:
        [\t\n\f\r /]++
      | [^\t\n\f\r />][^\t\n\f\r />=]*+
        (?: [\t\n\f\r ]*+ = [\t\n\f\r ]*+
            (?: "[^"]*+" | '[^']*+' | [^\t\n\f\r >"'][^\t\n\f\r >]*+ | (?=>) )
          | (?! [\t\n\f\r ]*+ = ) )
    )*+
    (>?)
    | [!?/] )  # a comment, doctype or bogus comment""",
    re.VERBOSE,
)
_COMMENT_END = re.compile(r"--!?>")
_SCRIPT_TOKEN = re.compile(r"<!--(?:-*>)?|-->|</?script(?=[\t\n\f\r />])", re.IGNORECASE)
_UNCLOSED_VALUE = re.compile(r"[^=]*=[\t\n\f\r ]*[\"']")

_VOID = {
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
    "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
}  # fmt: skip
# Their content is text to the tokenizer (noscript too: html5ever runs with scripting on).
_RAW_TEXT = {
    "iframe", "noembed", "noframes", "noscript", "script", "style", "textarea", "title", "xmp",
}  # fmt: skip
_FORMATTING = {
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
    "tt", "u",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CLOSES_P = {
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
    "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main",
    "menu", "nav", "ol", "p", "search", "section", "summary", "ul", "pre", "listing",
    "form", "table", "xmp", "li", "dd", "dt", "plaintext", *_HEADINGS,
}  # fmt: skip
# Void elements before which HTML5 re-opens formatting elements.
_VOID_REOPENING = {"area", "br", "embed", "image", "img", "input", "keygen", "wbr"}
_TABLE_PARTS = {"caption", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"}
_IGNORED_START = {"html", "head", "body", "frameset"}
# Tags that end foreign (SVG/MathML) content and are read as HTML again.
_BREAKOUT = {
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p",
    "pre", "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt",
    "u", "ul", "var", *_HEADINGS,
}  # fmt: skip
_FONT_BREAKOUT = re.compile(r"[\t\n\f\r /](?:color|face|size)[\t\n\f\r /=>]", re.IGNORECASE)
_INTEGRATION_POINTS = {
    "svg foreignobject", "svg desc", "svg title", "math mi", "math mo", "math mn", "math ms",
    "math mtext", "math annotation-xml",
}  # fmt: skip
# html5ever reads a select as the customizable select: as in body, but nothing
# inside it closes what was opened outside it.
_SCOPE = {
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
    "select", *_INTEGRATION_POINTS,
}  # fmt: skip
_SPECIAL = {
    "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound",
    "blockquote", "body", "br", "button", "caption", "center", "col", "colgroup", "dd",
    "details", "dir", "div", "dl", "dt", "embed", "fieldset", "figcaption", "figure",
    "footer", "form", "frame", "frameset", "head", "header", "hgroup", "hr", "html",
    "iframe", "img", "input", "keygen", "li", "link", "listing", "main", "marquee", "menu",
    "meta", "nav", "noembed", "noframes", "noscript", "object", "ol", "p", "param",
    "plaintext", "pre", "script", "search", "section", "select", "source", "style",
    "summary", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead",
    "title", "tr", "track", "ul", "wbr", "xmp", *_HEADINGS, *_INTEGRATION_POINTS,
}  # fmt: skip
_MARKERS = {"applet", "caption", "marquee", "object", "template", "td", "th"}
# Groups of elements whose nearest open member the rules ask for.
_GROUPS: dict[str, set[str]] = {
    "SCOPE": _SCOPE,
    "BUTTON_SCOPE": _SCOPE | {"button"},
    "LIST_SCOPE": _SCOPE | {"ol", "ul"},
    "TABLE_SCOPE": {"html", "table", "template"},
    "SPECIAL": _SPECIAL,
    "LI_STOP": _SPECIAL - {"address", "div", "p"},
    "HEADING": _HEADINGS,
    "DD_DT": {"dd", "dt"},
    "CELL": {"td", "th"},
    "ROW_GROUP": {"tbody", "thead", "tfoot"},
    "TABLE_BODY_CONTEXT": {"tbody", "thead", "tfoot", "table", "template", "html"},
    "TABLE_CONTEXT": {"table", "template", "html"},
    "ROW_CONTEXT": {"tr", "template", "html"},
    "INTEGRATION": _INTEGRATION_POINTS,
}
# For each element the rules name: the lists of positions it goes in.
_INDEXES: dict[str, tuple[str, ...]] = {}
for _group, _members in _GROUPS.items():
    for _member in _members:
        _INDEXES.setdefault(_member, (_member, "FOREIGN" if " " in _member else "HTML"))
        _INDEXES[_member] += (_group,)


@dataclass(slots=True)
class _Element:
    key: str  # the tag name; "svg …" or "math …" for foreign elements
    kept: bool  # passed on to nh3 (else dropped, and its end tag with it)
    indexes: tuple[str, ...]  # the entries of _OpenElements.at that list it
    on_stack: bool = True
    gone: bool = False  # taken out of the stack (form, adoption): popped once on top
    uncounted: bool = False  # and no longer adds to the depth
    attributes: str = ""  # of a formatting element, as written


class _OpenElements:
    """The HTML5 stack of open elements, modelled closely enough to know how deep
    the parser will nest (the insertion modes "in body" and the table ones, foreign
    content, formatting elements). Each name and group keeps the stack positions of
    its members, so every question asked of the stack is O(1)."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.stack: list[_Element] = []
        self.at: dict[str, list[int]] = {}
        self.gone = 0
        # HTML5's list of active formatting elements; None is a marker.
        self.active: list[_Element | None] = []
        self.formatting = 0
        self.form_open = False  # HTML5's form element pointer is set

    # -- the stack

    def depth(self) -> int:
        return len(self.stack) - self.gone

    def has_room(self, extra: int = 0) -> bool:
        return self.depth() + extra < self.max_depth

    def last(self, key: str) -> int:
        positions = self.at.get(key)
        return positions[-1] if positions else -1

    def current(self) -> str:
        return self.stack[-1].key if self.stack else "html"

    def in_foreign_content(self) -> bool:
        if not self.at.get("FOREIGN"):
            return False
        current = self.current()
        return " " in current and current not in _INTEGRATION_POINTS

    def in_scope(self, key: str, scope: str) -> int:
        """The position of the nearest `key` if no `scope` boundary is above it, else -1."""
        index = self.last(key)
        return index if index >= 0 and index >= self.last(scope) else -1

    def push(self, key: str, kept: bool) -> _Element:
        indexes = _INDEXES.get(key) or (key, "FOREIGN" if " " in key else "HTML")
        element = _Element(key, kept, indexes)
        index = len(self.stack)
        self.stack.append(element)
        at = self.at
        for name in indexes:
            if name in at:
                at[name].append(index)
            else:
                at[name] = [index]
        if key in _MARKERS and kept:
            self.active.append(None)
        return element

    def pop(self) -> None:
        while True:
            index = len(self.stack) - 1
            element = self.stack.pop()
            element.on_stack = False
            for name in element.indexes:
                positions = self.at[name]
                if positions and positions[-1] == index:
                    positions.pop()
            if element.uncounted:
                self.gone -= 1
            if element.key in _MARKERS and element.kept:
                self._clear_to_marker()
            if not (self.stack and self.stack[-1].gone):
                return

    def pop_to(self, index: int) -> bool:
        """Pop the element at `index` and all above it; was that element kept?"""
        kept = self.stack[index].kept
        while len(self.stack) > index:
            self.pop()
        return kept

    def pop_until(self, group: str) -> None:
        """Pop until the current element is a member of `group`."""
        while len(self.stack) > self.last(group) + 1:
            self.pop()

    # -- active formatting elements

    def _clear_to_marker(self) -> None:
        while self.active:
            entry = self.active.pop()
            if entry is None:
                return
            self.formatting -= 1

    def _forget(self, element: _Element) -> None:
        self.active.remove(element)
        self.formatting -= 1

    def _formatting_entry(self, key: str) -> _Element | None:
        for entry in reversed(self.active):
            if entry is None:
                return None
            if entry.key == key:
                return entry
        return None

    def reconstruct(self) -> None:
        """HTML5 re-opens formatting elements that a block closed implicitly."""
        active = self.active
        last = active[-1] if active else None
        if last is None or last.on_stack:
            return
        start = len(active) - 1
        while start > 0:
            previous = active[start - 1]
            if previous is None or previous.on_stack:
                break
            start -= 1
        for position in range(start, len(active)):
            old = active[position]
            if old is not None:
                active[position] = clone = self.push(old.key, kept=True)
                clone.attributes = old.attributes

    # -- start tags

    def start(self, key: str, tag: re.Match[str]) -> bool:
        """Apply a start tag; True if it is passed on to nh3."""
        if self.at.get("FOREIGN") and self.in_foreign_content():
            raw_tag = tag.group(0)
            if key not in _BREAKOUT and not (key == "font" and _FONT_BREAKOUT.search(raw_tag)):
                namespace = self.current().split(" ", 1)[0]
                return self._open(f"{namespace} {key}", _self_closing(raw_tag))
            while self.in_foreign_content():
                self.pop()
        if key in _VOID or key in _IGNORED_START:
            if key == "hr":
                self._close_p()
            elif key in _VOID_REOPENING:
                self.reconstruct()
            return True
        if key == "table":
            return self._table()
        if key in _TABLE_PARTS:
            return self._table_part(key)
        if key == "form" and self.form_open:
            return True  # HTML5 ignores a form inside a form
        if key in _CLOSES_P:
            self._close_p()
            self._close_implied_by(key)
            return self._open_block(key)
        if key in {"button", "select"}:
            index = self.in_scope(key, "SCOPE")
            if index >= 0 and self.pop_to(index) and key == "select":
                return True  # a select inside a select only closes it
        elif key in {"option", "optgroup"} and self.current() == "option":
            self.pop()
        elif key in {"a", "nobr"}:
            # An open one is closed first, by the adoption agency.
            entry = self._formatting_entry(key)
            if entry is not None:
                self._adopt(entry)
        self.reconstruct()
        if key in {"svg", "math"}:
            return self._open(f"{key} {key}", _self_closing(tag.group(0)))
        if key in _FORMATTING:
            return self._open_formatting(key, tag.group(0)[len(key) + 1 :])
        return self._open(key)

    def _open(self, key: str, self_closing: bool = False) -> bool:
        if self_closing:
            return True
        kept = self.has_room()
        self.push(key, kept)
        return kept

    def _open_formatting(self, key: str, attributes: str) -> bool:
        self._noahs_ark(key, attributes)
        if self.formatting >= MAX_OPEN_FORMATTING or not self.has_room():
            self.push(key, kept=False)
            return False
        element = self.push(key, kept=True)
        element.attributes = attributes
        self.active.append(element)
        self.formatting += 1
        return True

    def _noahs_ark(self, key: str, attributes: str) -> None:
        """HTML5 keeps at most three alike formatting elements active (alike here
        means the same attribute text, which never merges more than HTML5 does)."""
        alike = []
        for entry in reversed(self.active):
            if entry is None:
                break
            if entry.key == key and entry.attributes == attributes:
                alike.append(entry)
        if len(alike) >= 3:
            self._forget(alike[-1])

    def _open_block(self, key: str) -> bool:
        kept = self._open(key)
        if key == "form":
            self.form_open = kept
        return kept

    def _close_in_scope(self, key: str) -> None:
        index = self.in_scope(key, "SCOPE")
        if index >= 0:
            self.pop_to(index)

    def _close_p(self) -> None:
        index = self.in_scope("p", "BUTTON_SCOPE")
        if index >= 0:
            self.pop_to(index)

    def _close_implied_by(self, key: str) -> None:
        if key in _HEADINGS and self.current() in _HEADINGS:
            self.pop()
        elif key in {"li", "dd", "dt"}:
            # The nearest li (dd, dt) is closed unless a special element is in between.
            index = self.last("li" if key == "li" else "DD_DT")
            if index >= 0 and index >= self.last("LI_STOP"):
                self.pop_to(index)

    def _table(self) -> bool:
        table = self.in_scope("table", "TABLE_SCOPE")
        if table >= 0 and table > max(self.last("CELL"), self.last("caption")):
            self.pop_to(table)  # a table straight inside a table closes the first
        else:
            self._close_p()
        return self._open("table")

    def _table_part(self, key: str) -> bool:
        if self.in_scope("table", "TABLE_SCOPE") < 0:
            return True  # HTML5 ignores table parts outside a table
        cell = self.in_scope("CELL", "TABLE_SCOPE")
        if cell >= 0:
            self.pop_to(cell)
        implied: list[str] = []
        if key in {"td", "th"} and self.in_scope("tr", "TABLE_SCOPE") >= 0:
            self.pop_until("ROW_CONTEXT")
        elif key in {"td", "th", "tr"}:
            row = self.in_scope("tr", "TABLE_SCOPE")
            if row >= 0:
                self.pop_to(row)
            self.pop_until("TABLE_BODY_CONTEXT")
            if self.current() == "table":
                implied.append("tbody")
            if key != "tr":
                implied.append("tr")
        else:
            for group in ("tr", "ROW_GROUP"):
                index = self.in_scope(group, "TABLE_SCOPE")
                if index >= 0:
                    self.pop_to(index)
            self.pop_until("TABLE_CONTEXT")
        kept = self.has_room(len(implied))
        for name in (*implied, key):
            self.push(name, kept)
        return kept

    # -- end tags

    def end(self, key: str) -> bool:
        """Apply an end tag; True if it is passed on to nh3."""
        nearest = self.last(key)
        if nearest >= 0 and not self.stack[nearest].kept:
            return self.pop_to(nearest)  # it closes a dropped element: nh3 never saw it open
        if self.stack and " " in self.current():
            foreign = max(self.last(f"svg {key}"), self.last(f"math {key}"))
            if foreign > self.last("HTML"):
                return self.pop_to(foreign)
        if key in _FORMATTING:
            entry = self._formatting_entry(key)
            if entry is not None:
                return self._adopt(entry)
        if key == "form":
            return self._close_form()
        index = self._closed_by(key)
        if index < 0 or (key != "select" and self.last("select") > index):
            return True  # ignored, as HTML5 ignores closing from inside a select
        return self.pop_to(index)

    def _closed_by(self, key: str) -> int:
        """The position of the element an end tag closes, or -1 if HTML5 ignores it."""
        if key == "p":
            return self.in_scope("p", "BUTTON_SCOPE")
        if key == "li":
            return self.in_scope("li", "LIST_SCOPE")
        if key in _HEADINGS:
            return self.in_scope("HEADING", "SCOPE")
        if key in _TABLE_PARTS or key == "table":
            return self.in_scope(key, "TABLE_SCOPE")
        if key in _SPECIAL:
            return self.in_scope(key, "SCOPE")
        index = self.last(key)
        return index if index > self.last("SPECIAL") else -1

    def _close_form(self) -> bool:
        """HTML5 takes the form out of the stack and leaves what was opened in it."""
        self.form_open = False
        index = self.in_scope("form", "SCOPE")
        if index >= 0:
            # Still the parent of what was opened in it, so it still counts.
            self._take_out(index, still_counts=True)
        return True

    def _take_out(self, index: int, still_counts: bool = False) -> None:
        """Remove one element from the middle of the stack; what is above stays."""
        if index == len(self.stack) - 1:
            self.pop()
            return
        element = self.stack[index]
        element.gone = True
        if not still_counts:
            element.uncounted = True
            self.gone += 1
        positions = self.at[element.key]
        if positions[-1] == index:
            positions.pop()

    def _adopt(self, entry: _Element) -> bool:
        """HTML5's adoption agency, as far as depth goes."""
        if not entry.on_stack:
            self._forget(entry)
            return True
        index = self.in_scope(entry.key, "SCOPE")
        if index < 0 or self.last("select") > index:
            return True  # ignored, as is closing from inside a select one opened outside
        self._forget(entry)
        if self.last("SPECIAL") <= index:
            return self.pop_to(index)
        # A block was opened inside it: the parser moves the element out from under
        # that block, which stays open one level higher.
        self._take_out(index)
        return True


def _self_closing(raw_tag: str) -> bool:
    """Whether a tag ends in "/>" (only foreign content honours it) and that "/" does
    not end an unquoted attribute value (a=b/>)."""
    if not raw_tag.endswith("/>"):
        return False
    last_word = raw_tag[:-2].rsplit(None, 1)[-1]
    _, equals, value = last_word.partition("=")
    return not equals or value[:1] in {'"', "'"}


def flatten_nesting(fragment: str, max_depth: int = MAX_DEPTH) -> str:
    """The fragment without the tags that would nest elements deeper than
    `max_depth` when parsed as HTML5; their text stays. Linear in the fragment's
    length; a fragment that nests no deeper is returned as it is."""
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, not {max_depth}")
    # Depth needs tags; the re-opened formatting elements at most double it.
    if fragment.count("<") <= max_depth // 2:
        return fragment
    return _Flattener(fragment, max_depth).run()


class _Flattener:
    """One linear pass over the markup, reading it as the HTML5 tokenizer does
    (tags, comments, raw text) and dropping the tags the model says nest too deep."""

    def __init__(self, fragment: str, max_depth: int) -> None:
        self.text = fragment
        self.model = _OpenElements(max_depth)
        self.pieces: list[str] = []
        self.copied = 0  # self.text[:copied] is in self.pieces
        self.dropped = False
        self.no_comment_end_after = len(fragment)
        self.no_raw_end_after: dict[str, int] = {}

    def run(self) -> str:
        text, model, search = self.text, self.model, _TOKEN.search
        # After the last ">" nothing can close a tag: it is all text to the parser.
        last_gt = text.rfind(">")
        position = text_from = 0
        while True:
            match = search(text, position)
            if match is None or match.start() > last_gt:
                break
            start = match.start()
            if start > text_from and model.active:
                model.reconstruct()  # text re-opens formatting elements
            closing, name, complete = match.group(1, 2, 3)
            if name is None:
                position = text_from = self._skip_comment(start)
                continue
            end = match.end()
            if not complete:
                if end == len(text):
                    break  # a tag left open swallows the rest
                # A quoted value that never closes: HTML5 would swallow the rest.
                # Read on after the quote, in case we misjudged where we are.
                unclosed = _UNCLOSED_VALUE.match(text, end)
                position = unclosed.end() if unclosed else start + 1
                continue
            position = text_from = end
            key = name.lower()
            if closing:
                kept = model.end(key)
            elif key in _RAW_TEXT and not model.in_foreign_content():
                # Raw text holds no elements; read past it as the tokenizer does.
                position = text_from = self._raw_text_end(key, end)
                continue
            else:
                kept = model.start(key, match)
            if not kept:
                self.pieces.append(text[self.copied : start])
                self.pieces.append(" " if key in BLOCK_TAGS else "")  # still apart
                self.copied = end
                self.dropped = True
        if not self.dropped:
            return text
        self.pieces.append(text[self.copied :])
        return "".join(self.pieces)

    def _skip_comment(self, start: int) -> int:
        """Where a comment, doctype or other bogus comment starting at `start` ends."""
        text = self.text
        if text.startswith("<!--", start):
            if text.startswith(">", start + 4):
                return start + 5
            if text.startswith("->", start + 4):
                return start + 6
            if start < self.no_comment_end_after:
                end = _COMMENT_END.search(text, start + 4)
                if end is not None:
                    return end.end()
                self.no_comment_end_after = start
            return start + 4  # never closed: read on, in case we misjudged
        if text.startswith("</>", start):
            return start + 3
        return text.find(">", start) + 1

    def _raw_text_end(self, name: str, start: int) -> int:
        """Where the raw text of a script, style, textarea… opened before `start`
        ends (its end tag), or `start` if it never does (read on as markup)."""
        if start >= self.no_raw_end_after.get(name, len(self.text) + 1):
            return start
        end = (
            _script_end(self.text, start) if name == "script" else _raw_end(self.text, name, start)
        )
        if end < 0:
            self.no_raw_end_after[name] = start
            return start
        return end


_RAW_TEXT_END = {name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE) for name in _RAW_TEXT}


def _raw_end(text: str, name: str, start: int) -> int:
    match = _RAW_TEXT_END[name].search(text, start)
    return match.start() if match else -1


def _script_end(text: str, start: int) -> int:
    """Where a script's text ends, with HTML5's escapes: inside "<!--", a nested
    "<script>" hides the next "</script>"."""
    state = "data"
    for match in _SCRIPT_TOKEN.finditer(text, start):
        token = match.group().lower()
        if token.startswith("<!--"):
            if state == "data" and not token.endswith(">"):
                state = "escaped"
        elif token == "-->":
            state = "data"
        elif token == "<script":
            if state == "escaped":
                state = "double"
        elif state == "double":
            state = "escaped"
        else:
            return match.start()
    return -1


_SERIALIZED_TAG = re.compile(r'<(/?)([A-Za-z][^\t\n\f\r />]*)(?:[^>"]|"[^"]*")*>')


def flatten_serialized(cleaned: str, max_depth: int) -> str:
    """Sanitized HTML (nh3's output: every element closed, values quoted) with the
    elements deeper than `max_depth` unwrapped. Exact, where flatten_nesting
    before nh3 is only close: it bounds the work, this bounds the result."""
    if cleaned.count("<") <= max_depth:
        return cleaned
    kept: list[bool] = []
    depth = 0

    def unwrap(match: re.Match[str]) -> str:
        nonlocal depth
        name = match.group(2).lower()
        if name in _VOID:
            return match.group(0)
        if match.group(1):
            depth -= 1
            keep = kept.pop() if kept else True
        else:
            depth += 1
            keep = depth <= max_depth
            kept.append(keep)
        if keep:
            return match.group(0)
        return " " if name in BLOCK_TAGS else ""

    return _SERIALIZED_TAG.sub(unwrap, cleaned)
