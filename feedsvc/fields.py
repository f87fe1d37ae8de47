"""What a person may set as a title, a name or a tag: one check for every door.

The admin's forms, the API and the CLI refuse, naming the field, text holding an
invisible control character: bidi overrides and isolates reorder what is shown
around them ("Trojan Source", CVE-2021-42574), zero-width and C0/C1 controls hide
in it. A tag must also make a slug, its address; one that cannot is refused, not
dropped. URLs have their own rule, in `urls.py`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from feedsvc import content
from feedsvc.errors import FeedsvcError

# Controls, format characters (bidi, zero-width), lone surrogates, line and
# paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Format characters all the same, but Persian, the Indic scripts and emoji
# sequences need the zero-width non-joiner and joiner.
_JOINERS = frozenset({"\u200c", "\u200d"})
# The widths of the tags table's columns.
MAX_TAG_NAME = 200
MAX_TAG_SLUG = 100
_SHOWN = 40


class FieldError(FeedsvcError):
    """A value is refused; `field` names it and `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field)
        self.reason = reason


def invisible_character(text: str) -> str | None:
    """The first invisible control character in the text, if any."""
    for char in text:
        if char not in _JOINERS and unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return char
    return None


def check_text(text: str, field: str) -> str:
    """The text as given, unless it holds an invisible control character."""
    found = invisible_character(text)
    if found is not None:
        name = unicodedata.name(found, "")
        shown = f"U+{ord(found):04X}" + (f" {name}" if name else "")
        raise FieldError(field, f"contains an invisible control character ({shown})")
    return text


def tag_slug(name: str) -> str:
    """A tag's address part; empty when its name has nothing to make one of."""
    return content.slugify(name, max_length=MAX_TAG_SLUG, fallback="")


def check_tag(name: str, field: str = "tags") -> str:
    """The tag's name without surrounding space, if it is visible text that makes a slug."""
    name = check_text(name, field).strip()
    if len(name) > MAX_TAG_NAME:
        raise FieldError(field, f"a tag is at most {MAX_TAG_NAME} characters long")
    if not tag_slug(name):
        if content.slugify(name, max_length=len(name), fallback=""):
            wanting = f"a first word of at most {MAX_TAG_SLUG} characters"
        else:
            wanting = "a letter a-z or a digit"
        raise FieldError(field, f"the tag {name[:_SHOWN]!r} needs {wanting} to make its address")
    return name


def check_tags(names: Iterable[str], field: str = "tags") -> list[str]:
    """Each name checked by `check_tag`."""
    return [check_tag(name, field) for name in names]
