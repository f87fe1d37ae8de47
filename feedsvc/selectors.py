"""Elements taken out of upstream content by CSS selector (share bars, ads,
"related posts"), before it is sanitized, when class and id still say what
an element is. Pure: lxml parses, cssselect turns selectors into XPath.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import lxml.etree
import lxml.html
from cssselect import GenericTranslator, SelectorError
from cssselect.xpath import ExpressionError

from feedsvc.errors import FeedsvcError

MAX_SELECTORS = 50
MAX_SELECTOR_LENGTH = 500


class BadSelector(FeedsvcError):
    """A selector the engine refuses; the message gives its reason."""

    def __init__(self, message: str, field: str = "strip_selectors") -> None:
        super().__init__(message, field)


def check_selectors(selectors: Sequence[str]) -> list[str]:
    """The selectors without blanks, each one valid; `BadSelector` says which is not."""
    cleaned = [s.strip() for s in selectors if s.strip()]
    if len(cleaned) > MAX_SELECTORS:
        raise BadSelector(f"at most {MAX_SELECTORS} selectors")
    for selector in cleaned:
        if len(selector) > MAX_SELECTOR_LENGTH:
            raise BadSelector(f"a selector has at most {MAX_SELECTOR_LENGTH} characters")
        _xpath(selector)
    return cleaned


def check_selector(selector: str, field: str) -> str:
    """One selector, stripped and valid (or empty); `BadSelector` for `field` says why not."""
    selector = selector.strip()
    if not selector:
        return ""
    if len(selector) > MAX_SELECTOR_LENGTH:
        raise BadSelector(f"a selector has at most {MAX_SELECTOR_LENGTH} characters", field)
    try:
        _xpath(selector)
    except BadSelector as exc:
        raise BadSelector(str(exc), field) from None
    return selector


def select(root: lxml.etree._Element, selector: str) -> list[lxml.etree._Element]:
    """The elements under `root` the selector matches, in document order."""
    return list(_xpath(selector)(root))


@functools.lru_cache(maxsize=512)
def _xpath(selector: str) -> lxml.etree.XPath:
    try:
        return lxml.etree.XPath(GenericTranslator().css_to_xpath(selector))
    except (SelectorError, ExpressionError) as exc:
        raise BadSelector(f"{selector!r} is not a CSS selector: {exc}") from None


def remove_elements(fragment: str, selectors: Sequence[str]) -> str:
    """The HTML fragment without the elements any selector matches (their tails stay)."""
    if not selectors or not fragment.strip():
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fragment
    removed = False
    for selector in selectors:
        try:
            matches = _xpath(selector)(root)
        except BadSelector:
            continue  # refused when saved; one stored before a check changed skips
        for element in matches:
            if element is not root and element.getparent() is not None:
                element.drop_tree()
                removed = True
    if not removed:
        return fragment
    inner = [root.text or ""]
    inner += [lxml.html.tostring(child, encoding="unicode") for child in root]
    return "".join(inner)
