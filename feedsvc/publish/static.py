"""Static publishing: the canonical feeds as files, for a front server.

With STATIC_DIR set, each content version is written once as
`feeds/posts.atom`, `feeds/posts.atom.gz` and so on, each file replaced
atomically (write a temporary file, then rename), so nginx never serves half a
feed. Only the default first pages are written; every other address is
answered by the app. Folders are made 0755 and files 0644 whatever the
process's umask, so that nginx's user can read them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gzip
import os
import tempfile
from pathlib import Path

from feedsvc import changes
from feedsvc.db import Database
from feedsvc.publish import feeds, service
from feedsvc.settings import Settings

STAMP = ".content-version"
# Held while the files are written: the worker and a web process (a hub's
# delivery) may both write, and an older version must not land last.
LOCK = ".lock"
FOLDER_MODE = 0o755
FILE_MODE = 0o644
CANONICAL_KINDS = (service.POSTS, service.SUMMARY)


def canonical_requests(settings: Settings) -> list[service.FeedRequest]:
    size = settings.feeds.page_size
    return [
        service.FeedRequest(kind, fmt, size) for kind in CANONICAL_KINDS for fmt in feeds.FORMATS
    ]


def publish_static(
    db: Database, settings: Settings, now: dt.datetime, *, force: bool = False
) -> bool:
    """Write the canonical feeds if the content changed since the last write."""
    folder = Path(settings.feeds.static_dir)
    _make_folders(folder)
    with open(folder / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        return _publish_locked(db, settings, now, folder, force)


def _publish_locked(
    db: Database, settings: Settings, now: dt.datetime, folder: Path, force: bool
) -> bool:
    with db.session(write=False) as session:
        version = changes.content_version(session.connection())
        stamp = folder / STAMP
        if not force and stamp.exists() and stamp.read_text().strip() == str(version):
            return False
        for req in canonical_requests(settings):
            built = service.build_feed(session, req, settings, now)
            target = folder / f"{service.feed_path(req).lstrip('/')}.{req.fmt}"
            # mtime=0 keeps the .gz identical for identical content.
            _write_atomically(target, built.body, built.last_modified)
            _write_atomically(
                target.with_name(target.name + ".gz"),
                gzip.compress(built.body, compresslevel=9, mtime=0),
                built.last_modified,
            )
    _write_atomically(stamp, f"{version}\n".encode(), now)
    return True


def _make_folders(folder: Path) -> None:
    """Make `folder` and any missing parents; mkdir's mode is cut by the umask."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        os.chmod(path, FOLDER_MODE)


def _write_atomically(target: Path, data: bytes, modified: dt.datetime) -> None:
    _make_folders(target.parent)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, FILE_MODE)
        # nginx's Last-Modified and ETag come from the file's mtime.
        stamp = modified.timestamp()
        os.utime(temporary, (stamp, stamp))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
