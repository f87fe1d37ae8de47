"""The systemd units and the env file in docs/systemd, as an operator installs them."""

from __future__ import annotations

import configparser
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import config

SYSTEMD = Path(__file__).resolve().parent.parent / "docs" / "systemd"
UNITS = ("feedsvc-web.service", "feedsvc-worker.service")
INSTALLED_BIN = "/srv/feedsvc/app/.venv/bin/"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # The programs must exist: point the units at this virtualenv's.
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        assert INSTALLED_BIN in text
        (tmp_path / name).write_text(text.replace(INSTALLED_BIN, f"{Path(sys.executable).parent}/"))
    result = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    # An unknown key is only a message: any message fails.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_units_run_as_their_own_user_hardened_and_restarted(name: str) -> None:
    service = unit(name)["Service"]
    assert service["User"] == service["Group"] == "feedsvc"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/feedsvc/feedsvc.env"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "PrivateTmp": "yes", "ProtectHome": "yes"}.items():  # fmt: skip
        assert service[key] == value, key


def test_the_web_unit_logs_access_and_listens_on_loopback_only() -> None:
    start = unit("feedsvc-web.service")["Service"]["ExecStart"]
    assert "--access-logfile -" in start and "--bind 127.0.0.1:8000" in start


def test_the_env_example_is_a_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    example = {}
    for line in (SYSTEMD / "feedsvc.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert " " not in value, f"{name}: systemd and sh read spaces differently"
            example[name] = value
    assert config.unknown_variables(example) == []
    assert example["FEEDSVC_SECRET_KEY"] == "", "the key is made at install, never shipped"
    for name in [n for n in os.environ if n.startswith("FEEDSVC_")]:
        monkeypatch.delenv(name)
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    # As the README's install step leaves it.
    monkeypatch.setenv("FEEDSVC_SECRET_KEY", secrets.token_urlsafe(48))
    values = config.load()
    assert values["PROXY_HOPS"] == 1 and values["STATIC_DIR"] == "/srv/feedsvc/static"
