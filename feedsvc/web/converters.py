"""What the placeholders of every route accept: ids in their columns' range, slugs."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, IntegerConverter

from feedsvc.params import MAX_ID


class RowId(IntegerConverter):
    """`<int:…>` in every route is a row id: 1 to MAX_ID, the range of the id
    columns. Any other number is a 404 saying so, before the database, which
    cannot compare it with an INTEGER column, ever sees it. (NotFound, not the
    converter's usual ValidationError: with that, werkzeug answers 405 when the
    address has rules for other methods.)"""

    def to_python(self, value: str) -> int:
        number = int(value) if len(value) <= len(str(MAX_ID)) else MAX_ID + 1
        if not 1 <= number <= MAX_ID:
            raise NotFound(f"no such id: ids run from 1 to {MAX_ID}")
        return number


class Slug(BaseConverter):
    """A tag's slug as `content.slugify` makes them: anything else names no tag."""

    regex = r"[a-z0-9]+(?:-[a-z0-9]+)*"


# By name, for `app.url_map.converters`: "int" replaces werkzeug's own.
CONVERTERS: dict[str, type[BaseConverter]] = {"int": RowId, "slug": Slug}
