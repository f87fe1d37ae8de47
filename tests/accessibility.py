"""axe-core run in a Playwright page: the browser tests' accessibility check.

axe-core comes with the `axe-playwright-python` package (a dev dependency,
installed by `make test`), so no test fetches anything. The pages forbid script
by their Content-Security-Policy; Playwright's evaluate runs outside it, so
axe runs on the page exactly as it is served.

    from tests.accessibility import serious_violations
    assert serious_violations(page) == []
"""

from __future__ import annotations

from typing import Any

import pytest

axe_api = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="pip install -e '.[dev]'"
)

# axe's impacts are minor, moderate, serious and critical.
SERIOUS = ("serious", "critical")


def violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as loaded now, of the impacts given."""
    found: list[dict[str, Any]] = axe_api.Axe().run(page).response["violations"]
    return [violation for violation in found if violation["impact"] in impacts]


def serious_violations(page: Any) -> list[str]:
    """One line per serious or critical violation: rule, what it asks, where.
    An empty list is a pass; the lines make a failing assertion readable."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        for v in violations(page)
    ]
