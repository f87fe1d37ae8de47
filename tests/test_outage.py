"""The database goes away and comes back: the first request after it answers 200.

A private PostgreSQL cluster (tests/pgcluster.py) is stopped under a running app
whose pooled connections, and the feeds' own content-version connection, were
made before the outage. Run once, on the SQLite pass: the cluster is its own,
whatever FEEDSVC_TEST_DATABASE_URL says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine

from feedsvc import create_app
from feedsvc.migrate import upgrade
from feedsvc.posts import create_local_post, post_path
from tests.conftest import TEST_DATABASE_URL
from tests.pgcluster import PgCluster

pytestmark = pytest.mark.skipif(
    bool(TEST_DATABASE_URL),
    reason="uses a PostgreSQL cluster of its own: run once, on the SQLite pass",
)

# Every address a reader or an aggregator is likely to ask for first.
PAGES = ["/", "/feeds/posts.atom", "/feeds/summary.json", "/popular"]


@pytest.fixture
def outage_app(pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    url = pg_cluster.create_database("feedsvc")
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    app = create_app({"DATABASE_URL": url, "BASE_URL": "http://feeds.test"}, env="testing")
    # Answer errors as production does (a 500), instead of raising them into the test.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    app.extensions["feedsvc.db"].dispose()


def test_the_first_requests_after_the_database_comes_back_answer_200(
    outage_app: Flask, pg_cluster: PgCluster
) -> None:
    db = outage_app.extensions["feedsvc.db"]
    with db.session() as session:
        post = create_local_post(session, title="Still here", body_html="<p>Hello.</p>",
                                 summary_length=300, now=dt.datetime.now(dt.UTC))  # fmt: skip
        pages = [*PAGES, post_path(post)]
    client = outage_app.test_client()
    for page in pages:  # every connection the app keeps is made, and pooled
        assert client.get(page).status_code == 200, page

    pg_cluster.stop()  # pg_ctl stop -m fast: every session is ended
    pg_cluster.start()

    answers = {page: client.get(page).status_code for page in pages}
    assert answers == dict.fromkeys(pages, 200)
