"""The peer `reader` in a process of its own, for bench/ingest.py.

    python bench/_reader_pass.py add DB URLS_FILE     # subscribe (a new user's import)
    python bench/_reader_pass.py update DB WARM       # cold pass, then WARM warm passes

Prints one JSON object: wall-clock times (time.time()) so that the caller can
measure from the moment it started the process, and what each pass did.
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.time()


def add(db: str, urls_file: str) -> dict[str, object]:
    from reader import make_reader

    urls = open(urls_file).read().split()  # noqa: SIM115 - read once, closed at exit
    reader = make_reader(db)
    for url in urls:
        reader.add_feed(url)
    reader.close()
    return {"feeds": len(urls), "seconds": time.time() - STARTED}


def update(db: str, warm: int) -> dict[str, object]:
    from reader import make_reader

    imported = time.time()
    reader = make_reader(db)
    ready = time.time()
    cold = _pass(reader)
    warm_passes = [_pass(reader) for _ in range(warm)]
    entries = reader.get_entry_counts().total
    reader.close()
    return {
        "started": STARTED, "imported": imported, "ready": ready,
        "cold": cold, "warm": warm_passes, "entries": entries,
    }  # fmt: skip


def _pass(reader: object) -> dict[str, object]:
    """One update_feeds(workers=16, scheduled=False), as bench/ingest.py always ran it."""
    began = time.time()
    updated = not_modified = 0
    errors: list[str] = []
    for result in reader.update_feeds_iter(workers=16, scheduled=False):  # type: ignore[attr-defined]
        if result.error is not None:
            errors.append(f"{result.url}: {result.error}")
        elif result.value is None:
            not_modified += 1
        else:
            updated += 1
    return {
        "began": began, "ended": time.time(), "updated": updated,
        "not_modified": not_modified, "errors": errors[:5], "error_count": len(errors),
    }  # fmt: skip


if __name__ == "__main__":
    command, db, arg = sys.argv[1:4]
    result = add(db, arg) if command == "add" else update(db, int(arg))
    print(json.dumps(result))
