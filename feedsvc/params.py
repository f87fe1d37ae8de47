"""The numbers a request's address carries (page, limit, ids): one rule everywhere.

Site pages, feeds and the API read them with `whole_number`, so `?page=0` or
`?page=abc` is refused for the same reason wherever it is sent (400), and no
number reaches the database beyond what its columns and offsets hold.
"""

from __future__ import annotations

from collections.abc import Mapping

from feedsvc.errors import FeedsvcError

# The deepest page any listing serves: far past any real archive, and small
# enough that page × page size is an offset every database takes.
MAX_PAGE = 1_000_000
# Row ids are INTEGER columns (32 bits on PostgreSQL): a larger id names no row.
MAX_ID = 2**31 - 1
_SHOWN = 40


class BadParameter(FeedsvcError):
    """A query parameter is not a whole number in its range; the message says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message, name)


def whole_number(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """The parameter as a whole number from `low` to `high`; `default` when absent or empty.

    ASCII digits only, after an optional minus: int() would also take " 7",
    "+7", "7_0" and "٣", and fail on thousands of digits.
    """
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise BadParameter(name, f"{name} must be a whole number, not {raw[:_SHOWN]!r}")
    if len(digits.lstrip("0")) > len(str(high)) or not low <= int(raw) <= high:
        raise BadParameter(name, f"{name} must be between {low} and {high}")
    return int(raw)


def page_number(args: Mapping[str, str]) -> int:
    """`page`, from 1 to MAX_PAGE; 1 when not given."""
    return whole_number(args, "page", 1, 1, MAX_PAGE)
