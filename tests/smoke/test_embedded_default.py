"""The first README command's world: no environment at all, SQLite, eager Celery.

Migrates a fresh SQLite database, loads the demo, serves the portal and fetches the
reference article page over HTTP, the way a newcomer's browser would.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SEED_ELEMENTS = (
    "+++ DAS KI EXPERTENFORUM FEIERT SEINEN ERSTEN GEBURTSTAG! +++",
    ">MEHR<",
    "KI-Bündnis mit Japan",
    "Dr. Michael Gebert",
    "Dienstag, 11. Juli 2023",
    "Neue Ära der technologischen Zusammenarbeit",
    "Strategischer, geopolitischer Schachzug",
    "Sicherung der technologischen Souveränität",
    "#EUJapanPartnership",
    "#TechnologicalSovereignty",
    'data-slot="sidebar-top"',
    'data-slot="article-end-1"',
    "Werbung auf diesem Portal?",
    "Mehr Infos",
    "© 2023-2024 by Turtle-Media. Alle Rechte vorbehalten.",
    "Das KI Expertenforum ist ein unabhängiges redaktionelles Angebot.",
    "ISSN 2943-8918",
    "Alle erlauben",
    "Nur notwendige",
    "Einstellungen",
    "Cookie-Einstellungen",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_portal(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings.dev", LITFASS_VAR_DIR=str(var))
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    demo = subprocess.run(
        [*manage, "load_demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield {"base": base, "var": var, "demo_output": demo.stdout}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_embedded_default_uses_sqlite_in_var(embedded_portal):
    assert (embedded_portal["var"] / "litfass.sqlite3").stat().st_size > 0


def test_demo_prints_the_admin_login(embedded_portal):
    assert "user 'admin'" in embedded_portal["demo_output"]
    assert "password '" in embedded_portal["demo_output"]


def test_article_page_shows_the_seed_elements(embedded_portal):
    with urllib.request.urlopen(embedded_portal["base"] + "/artikel/ki-buendnis-mit-japan/") as r:
        assert r.status == 200
        html = r.read().decode()

    missing = [element for element in SEED_ELEMENTS if element not in html]
    assert missing == []


def test_static_assets_are_served_locally(embedded_portal):
    with urllib.request.urlopen(embedded_portal["base"] + "/static/portal/css/portal.css") as r:
        assert r.status == 200


def test_decision_endpoint_fills_the_article_slots(embedded_portal):
    """The public decision API with live counters and events in SQLite (no Redis)."""
    request = urllib.request.Request(
        embedded_portal["base"] + "/api/v1/decisions",
        data=json.dumps({"slots": ["sidebar-top", "article-end-1"], "tags": ["ki"]}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (X11; Linux)"},
    )
    with urllib.request.urlopen(request) as r:
        assert r.status == 200
        slots = json.loads(r.read())["slots"]

    assert [slot["key"] for slot in slots] == ["sidebar-top", "article-end-1"]
    filled = [slot for slot in slots if slot["filled"]]
    assert filled, "the demo's campaigns fill its slots"
    assert all(slot["click_url"] and slot["click_url"] in slot["html"] for slot in filled)
