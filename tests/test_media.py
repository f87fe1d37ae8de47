"""Media on the site: enclosures as players and figures on the post page,
thumbnails with a size on every listing page."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient

from feedsvc import images
from feedsvc.db import Database
from feedsvc.popularity import record_view
from feedsvc.sources import add_source
from feedsvc.web import images as web_images
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
EPISODES = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Casts</title><link>http://casts.example/</link>
<description>Casts</description>
<item><guid>ep1</guid><title>Audio episode</title><link>http://casts.example/1</link>
<description>&lt;p&gt;Listen.&lt;/p&gt;</description>
<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate>
<enclosure url="http://casts.example/1.mp3" type="audio/mpeg" length="12345678"/></item>
<item><guid>ep2</guid><title>Video episode</title><link>http://casts.example/2</link>
<description>&lt;p&gt;Watch.&lt;/p&gt;</description>
<pubDate>Sun, 22 Nov 2026 09:00:00 GMT</pubDate>
<enclosure url="http://casts.example/2.mp4" type="video/mp4" length="2048"/></item>
<item><guid>ep3</guid><title>Picture post</title><link>http://casts.example/3</link>
<description>&lt;p&gt;Look: &lt;img src="http://casts.example/in.jpg"
 width="800" height="400"&gt;&lt;/p&gt;</description>
<pubDate>Sat, 21 Nov 2026 09:00:00 GMT</pubDate><category>Shows</category>
<enclosure url="http://casts.example/3.jpg" type="image/jpeg" length="100"/></item>
</channel></rss>"""


@pytest.fixture
def casts(db: Database) -> dict[str, int]:
    with db.session() as session:
        source = add_source(session, "http://casts.example/feed.xml", NOW, title="Casts")
    store_feed(db, source.id, EPISODES, NOW)
    with db.session() as session:
        from feedsvc.models import Post

        ids = {post.title: post.id for post in session.query(Post)}
        for post_id in ids.values():
            record_view(session, post_id, "reader", dt.datetime.now(dt.UTC).date())
    return ids | {"source": source.id}


def post_page(client: FlaskClient, post_id: int) -> str:
    response = client.get(f"/posts/{post_id}", follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_audio_and_video_enclosures_render_players(
    client: FlaskClient, casts: dict[str, int]
) -> None:
    audio = post_page(client, casts["Audio episode"])
    assert '<audio controls preload="none" src="http://casts.example/1.mp3">' in audio
    assert 'href="http://casts.example/1.mp3" download' in audio
    assert "audio/mpeg, 12.3 MB" in audio
    video = post_page(client, casts["Video episode"])
    assert re.search(r'<video controls preload="none" width="\d+" height="\d+" '
                     r'src="http://casts.example/2.mp4">', video)  # fmt: skip
    assert "video/mp4, 2.0 kB" in video
    assert "<script" not in audio + video


def test_an_image_enclosure_is_a_figure_through_the_proxy(
    client: FlaskClient, casts: dict[str, int]
) -> None:
    html = post_page(client, casts["Picture post"])
    figure = html.split('<figure class="enclosure enclosure-image">', 1)[1].split("</figure>")[0]
    assert f'<img src="/img/{images.sign("http://casts.example/3.jpg", "testing")}"' in figure
    assert "<figcaption" in figure and "image/jpeg" in figure


@pytest.mark.parametrize("path", ["/", "/sources/{source}", "/tags/shows", "/popular"])
def test_listings_show_thumbnails_with_a_size_and_lazy_loading(
    client: FlaskClient, casts: dict[str, int], path: str
) -> None:
    html = client.get(path.format(**casts)).get_data(as_text=True)
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    thumbnails = re.findall(r'<img class="thumbnail[ "][^>]*>', main)
    assert thumbnails, main
    for tag in thumbnails:
        assert re.search(r'width="\d+" height="\d+"', tag), tag
        assert 'loading="lazy"' in tag and 'src="/img/' in tag


def test_the_first_images_own_size_shapes_its_thumbnail(
    client: FlaskClient, casts: dict[str, int]
) -> None:
    html = client.get("/tags/shows").get_data(as_text=True)
    # <img width="800" height="400"> shown 160 wide.
    assert re.search(
        r'<img class="thumbnail" src="/img/[^"]+" alt="" width="160" height="80"', html
    )


@pytest.mark.parametrize(
    ("width", "height", "box"),
    [
        (None, None, (160, 120, True)),
        (800, 400, (160, 80, False)),
        (100, 1000, (160, 120, True)),
        (0, 5, (160, 120, True)),
    ],
)
def test_thumbnail_boxes(width: int | None, height: int | None, box: tuple[int, int, bool]) -> None:
    """Sizes unknown: a 4:3 box the picture is cropped to; very tall ones are cut."""
    post = SimpleNamespace(image_width=width, image_height=height)
    assert web_images.thumbnail_size(post) == box
