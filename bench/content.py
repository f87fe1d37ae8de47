"""Time the content functions on hostile markup: deep nesting, unclosed tags,
huge values and text nodes, many images. Run: .venv/bin/python bench/content.py
(optionally naming cases). Every figure should stay well under a second."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from feedsvc import content

MB = 1_000_000
CASES: dict[str, Callable[[], str]] = {
    "div x40,000": lambda: "<div>" * 40_000 + "deep text" + "</div>" * 40_000,
    "div x40,000 unclosed": lambda: "<div>" * 40_000 + "deep text",
    "b i x20,000": lambda: "<b><i>" * 20_000 + "deep text",
    "p x40,000 unclosed": lambda: "<p>x" * 40_000,
    "table tr td x13,000": lambda: "<table><tr><td>" * 13_000 + "x",
    "4.8 MB entry (div x40,000 x11)": lambda: (
        ("<div>" * 40_000 + "<p>deep text</p>" + "</div>" * 40_000) * 11
    ),
    "4.4 MB nested divs": lambda: "<div>w " * (int(4.4 * MB) // 7),
    "4.4 MB flat paragraphs": lambda: (
        "<p>Some words in a paragraph, with <a href='/x'>a link</a>.</p>" * (int(4.4 * MB) // 62)
    ),
    "4 MB attribute value": lambda: '<a title="' + "x" * 4 * MB + '" href="/y">t</a>',
    "4 MB text node": lambda: "word " * (4 * MB // 5),
    "4 MB of <": lambda: "<" * 4 * MB,
    "100,000 tracking pixels": lambda: (
        '<img src="https://a.test/x.png" width="1" height="1">' * 100_000
    ),
    "300 open b x2,000 paragraphs": lambda: (
        "<p>" + "".join(f'<b title="{i}">' for i in range(300)) + "</p><p>x" * 2_000
    ),
}


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.process_time()
    result = call()
    return result, time.process_time() - started


def measure(name: str) -> str:
    markup = CASES[name]()
    sanitized, sanitize_s = timed(lambda: content.sanitize_html(markup, "https://b.test/"))
    _, summarize_s = timed(lambda: content.summarize(None, markup, 300))
    _, text_s = timed(lambda: content.html_to_text(markup))
    _, image_s = timed(lambda: content.first_image(str(sanitized)))
    return (
        f"{name:32} {len(markup) / MB:5.1f} MB  sanitize {sanitize_s:.2f}s  "
        f"summarize {summarize_s:.2f}s  html_to_text {text_s:.2f}s  first_image {image_s:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", choices=[*CASES, []], metavar="case")
    for name in parser.parse_args().cases or CASES:
        print(measure(name), flush=True)


if __name__ == "__main__":
    main()
