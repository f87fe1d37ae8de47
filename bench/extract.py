"""Full-article extraction, measured on real pages with hand-checked article text.

The data is Zyte's (Scrapinghub's) article extraction benchmark: 181 news and
blog pages as fetched, each with the article body a person marked
(`ground-truth.json`), MIT-licensed, the set trafilatura and readability are
compared on in public. It is not copied here; clone it once:

    git clone --depth 1 https://github.com/scrapinghub/article-extraction-benchmark \\
        bench/data/article-extraction-benchmark

Each page goes through what a full-text source's entry goes through
(`ingest.article.extract_article`: trafilatura, links made absolute,
`sanitize_html`), and the stored article's text (`content.html_to_text`) is
compared with the reference:

- token F1: precision and recall of the bag of word tokens, per page, averaged;
- shingle F1: the benchmark's own measure (word 4-grams; precision and recall
  averaged over pages, then combined), comparable with its published table.

A page the pipeline refuses (too little text) counts as an empty article.
Extraction time is per page, in one process, median over `--rounds`: CPU time
(the work itself) and wall time (which other load on the machine inflates;
the load average is printed beside it). Targets: token F1 ≥ 0.95, median
≤ 50 ms per page.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT / "bench" / "data" / "article-extraction-benchmark"
CLONE = "git clone --depth 1 https://github.com/scrapinghub/article-extraction-benchmark"
TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def scores(reference: Counter[object], found: Counter[object]) -> tuple[float, float]:
    """Precision and recall of one page's units (tokens or shingles); an empty
    side scores 1 against an empty other side, else 0."""
    overlap = sum((reference & found).values())
    precision = overlap / sum(found.values()) if found else float(not reference)
    recall = overlap / sum(reference.values()) if reference else float(not found)
    return precision, recall


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def shingles(words: list[str], n: int = 4) -> Counter[object]:
    return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3, help="timing passes over the pages")
    parser.add_argument("--worst", type=int, default=5, help="list the pages scoring lowest")
    args = parser.parse_args()
    truth_file = args.data / "ground-truth.json"
    if not truth_file.exists():
        print(f"no data at {args.data}; fetch it with:\n  {CLONE} {args.data}")
        return 0

    from feedsvc import content
    from feedsvc.fetched import FetchResult
    from feedsvc.ingest.article import extract_article

    truth = json.loads(truth_file.read_text())
    pages = []
    for key, item in sorted(truth.items()):
        body = gzip.decompress((args.data / "html" / f"{key}.html.gz").read_bytes())
        url = item.get("url") or f"http://example.org/{key}"
        page = FetchResult(url, url, 200, {"content-type": "text/html; charset=utf-8"}, body)
        pages.append((key, page, item["articleBody"]))

    cpu: dict[str, list[float]] = {key: [] for key, _, _ in pages}
    wall: dict[str, list[float]] = {key: [] for key, _, _ in pages}
    found: dict[str, str] = {}
    for _ in range(args.rounds):
        for key, page, _ in pages:
            started, started_cpu = time.perf_counter(), time.process_time()
            article = extract_article(page)
            cpu[key].append(time.process_time() - started_cpu)
            wall[key].append(time.perf_counter() - started)
            found[key] = content.html_to_text(article.html) if article.html else ""

    token_p, token_r, token_f, shingle_p, shingle_r = [], [], [], [], []
    per_page = []
    for key, _, reference in pages:
        ref_words, got_words = tokens(reference), tokens(found[key])
        p, r = scores(Counter(ref_words), Counter(got_words))
        token_p.append(p)
        token_r.append(r)
        token_f.append(f1(p, r))
        per_page.append((f1(p, r), key))
        sp, sr = scores(shingles(ref_words), shingles(got_words))
        shingle_p.append(sp)
        shingle_r.append(sr)
    empty = sum(not text for text in found.values())
    sp, sr = statistics.mean(shingle_p), statistics.mean(shingle_r)

    print(f"{len(pages)} pages, {args.rounds} timing rounds; {empty} gave no article")
    print(
        f"token F1    {statistics.mean(token_f):.3f}  (precision {statistics.mean(token_p):.3f},"
        f" recall {statistics.mean(token_r):.3f}; median page {statistics.median(token_f):.3f})"
    )
    print(
        f"shingle F1  {f1(sp, sr):.3f}  (precision {sp:.3f}, recall {sr:.3f};"
        " the benchmark's own measure)"
    )
    for name, times in (("CPU", cpu), ("wall", wall)):
        medians = [statistics.median(values) for values in times.values()]
        print(
            f"extraction  {name:<4} median {statistics.median(medians) * 1000:.1f} ms per page, "
            f"p90 {statistics.quantiles(medians, n=10)[-1] * 1000:.1f} ms, "
            f"max {max(medians) * 1000:.1f} ms"
        )
    one, five, fifteen = os.getloadavg()
    print(f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count() or 1} cores")
    for score, key in sorted(per_page)[: args.worst]:
        print(f"  worst: {score:.3f}  {truth[key].get('url', key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
