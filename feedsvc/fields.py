"""What a person may set as a title, a name or a tag: one check for every door.

The admin's forms, the API and the CLI refuse, naming the field, text holding an
invisible control character: bidi overrides and isolates reorder what is shown
around them ("Trojan Source", CVE-2021-42574), zero-width and C0/C1 controls hide
in it. A tag must also make a slug, its address (it needs a letter or a digit);
one that cannot is refused, not dropped. URLs have their own rule, in `urls.py`.
"""

from __future__ import annotations

import hashlib
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


def visible_text(text: str) -> str:
    """The text without its invisible control characters: what an upstream
    feed says, which is stored rather than refused."""
    return "".join(
        char for char in text
        if char in _JOINERS or unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )  # fmt: skip


def check_text(text: str, field: str) -> str:
    """The text as given, unless it holds an invisible control character."""
    found = invisible_character(text)
    if found is not None:
        name = unicodedata.name(found, "")
        shown = f"U+{ord(found):04X}" + (f" {name}" if name else "")
        raise FieldError(field, f"contains an invisible control character ({shown})")
    return text


def tag_slug(name: str) -> str:
    """A tag's address part; empty when its name has nothing to make one of.

    Latin letters and digits make a readable slug ("Café Society" →
    "cafe-society"); a name in another script (Россия, 日本語) gets a short hash
    of the name as it reads in any case and spacing, as authors' pages do, so it
    is a tag with an address of its own rather than none."""
    slug = content.slugify(name, max_length=MAX_TAG_SLUG, fallback="")
    if slug or content.slugify(name, max_length=len(name), fallback=""):
        return slug  # readable, or none for a first word longer than a slug holds
    words = " ".join(visible_text(name).casefold().split())
    if not any(char.isalnum() for char in words):
        return ""
    return "t-" + hashlib.sha256(words.encode("utf-8")).hexdigest()[:12]


def check_tag(name: str, field: str = "tags") -> str:
    """The tag's name without surrounding space, if it is visible text that makes a slug."""
    name = check_text(name, field).strip()
    if len(name) > MAX_TAG_NAME:
        raise FieldError(field, f"a tag is at most {MAX_TAG_NAME} characters long")
    if not tag_slug(name):
        if content.slugify(name, max_length=len(name), fallback=""):
            wanting = f"a first word of at most {MAX_TAG_SLUG} characters"
        else:
            wanting = "a letter or a digit"
        raise FieldError(field, f"the tag {name[:_SHOWN]!r} needs {wanting} to make its address")
    return name


def check_tags(names: Iterable[str], field: str = "tags") -> list[str]:
    """Each name checked by `check_tag`."""
    return [check_tag(name, field) for name in names]


def tag_key(name: str) -> str:
    """What the variants of a tag share: "Giant Bomb", "giant-bomb" and
    "GiantBomb" are one tag. Its slug without the hyphens that stand for spaces
    (a slug's key is its own)."""
    return tag_slug(name).replace("-", "")


# A source's category names: enough for any feed's vocabulary, and a bound.
MAX_CATEGORY_NAMES = 200
CATEGORY_NAMES = "category_names"


def check_category_names(names: object) -> dict[str, str]:
    """A source's upstream categories renamed ({"GiantBomb": "Giant Bomb"}) or
    dropped ({"Uncategorized": ""}): each category makes a tag, each new name
    is "" or one; two spellings of one category (`tag_key`) are refused."""
    if not isinstance(names, dict):
        raise FieldError(CATEGORY_NAMES, "an object of upstream category to new name ('': drop)")
    if len(names) > MAX_CATEGORY_NAMES:
        raise FieldError(CATEGORY_NAMES, f"at most {MAX_CATEGORY_NAMES} categories")
    checked: dict[str, str] = {}
    keys: dict[str, str] = {}
    for category, new_name in names.items():
        if not isinstance(category, str) or not isinstance(new_name, str):
            raise FieldError(CATEGORY_NAMES, "each category and new name is text")
        category = check_tag(category, CATEGORY_NAMES)
        new_name = check_tag(new_name, CATEGORY_NAMES) if new_name.strip() else ""
        earlier = keys.setdefault(tag_key(category), category)
        if earlier != category:
            raise FieldError(CATEGORY_NAMES, f"{earlier!r} and {category!r} are one category")
        checked[category] = new_name
    return checked


def parse_category_lines(text: str) -> dict[str, str]:
    """Category names as a person types them, one a line: `GiantBomb = Giant
    Bomb` renames, `Uncategorized =` drops; blank lines are skipped."""
    names: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        category, equals, new_name = line.partition("=")
        category = category.strip()
        if not equals or not category:
            raise FieldError(
                CATEGORY_NAMES,
                f"line {number}: write 'category = new name', or 'category =' to drop it",
            )
        if category in lines:
            raise FieldError(CATEGORY_NAMES, f"line {number}: {category[:_SHOWN]!r} is named "
                             f"on line {lines[category]} already")  # fmt: skip
        lines[category] = number
        names[category] = new_name.strip()
    return check_category_names(names)


def category_lines(names: dict[str, str]) -> str:
    """The names as `parse_category_lines` reads them."""
    return "\n".join(f"{category} = {new_name}".rstrip() for category, new_name in names.items())
