"""URLs, picked by hand and generated, for holding the URL fast paths to the
answers of the slow paths they skip: plain URLs and their near misses."""

from __future__ import annotations

import random
import string

# Bases for a join: good ones, and one urljoin raises ValueError for.
JOIN_BASES = ["", "http://example.org/a/b", "https://x.org/", "HTTP://X.org/", "ftp://f/",
              "urn:x", "tag:x,2024:", " http://e.org/", "http://[::1]/", "http://[::1"]  # fmt: skip
# URIs to join: plain web URLs and opaque ids (urn:, tag:), and the near misses
# (case, extra slashes, params, queries, brackets, spaces, controls, non-ASCII,
# schemes urljoin resolves against, relative references).
JOIN_URIS = [
    "http://example.org/0/0", "https://example.org", "https://example.org/", "HTTP://Example.org/a",
    "http:///example.org/a", "http://example.org/a;p", "http://example.org/a?q=1",
    "http://example.org/a#f", "http://example.org/a?", "http://example.org/a#", "http://[::1]/a",
    "http://[::1", "http://exa mple.org/", "http://example.org/a b", "http://example.org/\x00",
    " http://e.org/", "http://e.org/\t", "http://exämple.org/", "http://e.org/é", "http://e.org/%41",
    "http://u@e.org/", "http://e.org\\@evil/", "https:/e.org", "//e.org/a", "/a/b", "a/b", "",
    "urn:bench:0:0", "urn:bench:3:7", "tag:example.org,2026:1", "tag:example.org,2024:/posts/1",
    "javascript:alert(1)", "mailto:a@b", "urn:", "urn:/x", "urn://x", "urn:///x", "urn://[x",
    "urn:/\t/[x", "urn:\t//[x", "ur\tn:x", "urn:x\ty", "urn:x\r\n", " urn:x", "\x00urn:x", "urn:x ",
    "urn:x\x00", "URN:x", "Tag:x", "urn:é", "urné:x", "é:x", "urn:[x", "urn:x]", "urn:x#f?q",
    "urn:x;p", "1urn:x", "-x:y", "+x:y", "a,b://x", "a,b:x", "a.b-c+d:x", "svn+ssh:x", "ftp:x",
    "http:x", "https:x", "HTTP:x", "ws:x", "wss:x", "file:x", "sftp:x", "rtsps:x", "data:,x",
    "urn:x:y:z", "x:", ":x", "urn:%zz", "urn:\\x",
]  # fmt: skip
_JOIN_ALPHABET = "aZ09-._~/?#;:@%[]\\, \t\r\n\x00\x01\x7fé" + "/" * 5 + string.ascii_lowercase * 3
_JOIN_PREFIXES = [
    "http://", "https://", "HTTP://", "http:///", "http:", "//", "", "https://a",
    "urn:", "tag:example.org,2024:", "urn:bench:", "URN:", "Urn:", "urn:/", "urn://", "ur\tn:",
    " urn:", "\x01urn:", "ftp:", "svn+ssh:", "ws:", "a,b:", "x-y.z+w:", "é:", "mailto:",
]  # fmt: skip


def generated_uris(count: int) -> list[str]:
    rng = random.Random(13)
    return [rng.choice(_JOIN_PREFIXES)
            + "".join(rng.choice(_JOIN_ALPHABET) for _ in range(rng.randint(0, 15)))
            for _ in range(count)]  # fmt: skip


def generated_web_urls(count: int, limit: int) -> list[str]:
    """URL-like strings, about half of them plain http(s) URLs, the others
    hostile or odd in one or two places: scheme, host, port, path, length."""
    rng = random.Random(29)
    return [_web_url(rng, limit) for _ in range(count)]


_SCHEMES = ["http://"] * 15 + ["https://"] * 15 + [
    "HTTP://", "Https://", "javascript:", "javascript://", "data:", "vbscript:", "ftp://",
    "http:", "http:/", "http:\\\\", "https:///", " http://", "\x01http://", "ht\ttp://",
    "//", "", "http://user@", "http://u:p@", "http://evil\\@", "http://\u00e9", "\u00a0http://",
]  # fmt: skip
_HOST_ALPHABET = "abcxyz0189.-"
_ODD_IN_HOST = "A@\\[]:%é _|<>^\x00\t\n\x7f\u200b\u3000"
_PORTS = [""] * 30 + [":", ":0", ":00", ":1", ":80", ":080", ":65535", ":65536", ":99999",
                      ":123456", ":-1", ":+1", ":\u0663", ":8a", ": 80"]  # fmt: skip
_HOSTS = ["[::1]", "[::1", "::1]", "[2001:db8::1]", "[v1.x]", "[127.0.0.1]", "[zz]", "localhost",
          "127.0.0.1", "xn--bcher-kva.example", "EXAMPLE.org", "\u2100.example"]  # fmt: skip
_PATH_ALPHABET = string.ascii_lowercase + string.digits + "/"
_ODD_IN_PATH = string.ascii_uppercase + "?#;:@%[]\\-._~!$&'()*+,= \t\x00\x7fé\u200b"


def _web_url(rng: random.Random, limit: int) -> str:
    """Each part plain or, now and then, odd: a scheme, a host, a port, a path."""
    host = _text(rng, _HOST_ALPHABET, _ODD_IN_HOST, rng.randint(0, 12))
    if rng.random() < 0.05:
        host = rng.choice(_HOSTS)
    path = ""
    if rng.random() < 0.8:
        path = rng.choice("/?#") + _text(rng, _PATH_ALPHABET, _ODD_IN_PATH, rng.randint(0, 20))
    url = rng.choice(_SCHEMES) + host + rng.choice(_PORTS) + path
    if rng.random() < 0.05:  # about as long as a URL column holds, either side
        url += "/" + rng.choice("aé") * (limit - len(url) + rng.randint(-3, 3))
    if rng.random() < 0.05:
        url = rng.choice([" ", "\n", "\x00", "\u00a0"]) + url + rng.choice(["", " ", "\t"])
    return url


def _text(rng: random.Random, plain: str, odd: str, length: int) -> str:
    """`length` characters of `plain`; in one text of five, some of `odd` too."""
    alphabet = plain + odd if rng.random() < 0.2 else plain
    return "".join(rng.choice(alphabet) for _ in range(length))
