"""The person explorer in a real browser: headless Chromium driven by Selenium.

One browser and one server (fed by the quickstart's story) serve the whole module. The browser
is Debian's ``chromium`` with ``chromium-driver``: ``.ci/run`` installs them, and in CI
(``CI=true``) these tests fail without them; elsewhere they skip, saying how to install them.
Screenshots go to ``$POSTHOG_CLIENT_SCREENSHOTS`` (default: a ``posthog-client-screenshots``
folder in the temp dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from posthog_client.server import LocalServer

from . import event, identify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALICE_EVENTS = [
    "$pageview", "$pageview", "$pageview", "$identify",
    "signed_up", "$create_alias", "invoice_paid", "logged_out",
]  # fmt: skip
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)
WAIT_S = 10.0


def screenshot_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "posthog-client-screenshots"
    folder = Path(os.environ.get("POSTHOG_CLIENT_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        missing = (
            "the explorer's browser tests need Chromium and its driver: "
            "apt-get install -y chromium chromium-driver (.ci/run does it in CI)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    options = Options()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server holding the quickstart's story: alice (3 ids, 8 events) and bob."""
    with LocalServer() as server:
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_CLIENT_DIR": str(tmp_path_factory.mktemp("quickstart")),
        }
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "quickstart.py")],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield server


def texts(browser: WebDriver, selector: str) -> list[str]:
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, selector)]


def open_person(browser: WebDriver, server: LocalServer, distinct_id: str, query: str = "") -> None:
    person = server.engine.person(distinct_id)
    assert person is not None
    browser.get(f"{server.url}/persons/{person.uuid}{query}")


def test_the_quickstart_story_appears(browser: WebDriver, quickstart: LocalServer) -> None:
    browser.get(quickstart.explorer_url)
    names = texts(browser, "#persons tbody tr td:first-child a")
    assert names == ["bob@example.com", "alice@example.com"]  # newest first
    browser.find_element(By.LINK_TEXT, "alice@example.com").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.ID, "distinct-ids"))
    ids = texts(browser, "#distinct-ids .chip")
    assert len(ids) == 3 and ids[1:] == ["alice", "backend-7f3a"]
    browser.find_element(By.PARTIAL_LINK_TEXT, "oldest first").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: "order=oldest" in b.current_url)
    assert texts(browser, "#timeline .event-name") == ALICE_EVENTS
    assert texts(browser, "#timeline tbody tr td:nth-child(3) .chip").count("backend-7f3a") == 1
    email = browser.find_element(By.CSS_SELECTOR, '#properties tr[data-key="email"]')
    assert "$set on $identify" in email.text
    browser.save_screenshot(str(screenshot_dir() / "explorer-person.png"))


def test_bob_is_a_separate_person(browser: WebDriver, quickstart: LocalServer) -> None:
    open_person(browser, quickstart, "bob", "?order=oldest")
    assert browser.find_element(By.ID, "person-name").text.startswith("bob@example.com")
    assert len(texts(browser, "#distinct-ids .chip")) == 2
    assert texts(browser, "#timeline .event-name") == ["$pageview", "$identify", "signed_up"]
    assert "alice" not in texts(browser, "#distinct-ids .chip")


def test_a_search_by_an_alias_finds_the_person(browser: WebDriver, quickstart: LocalServer) -> None:
    browser.get(quickstart.explorer_url)
    box = browser.find_element(By.NAME, "q")
    box.send_keys("backend-7f3a")
    box.submit()
    WebDriverWait(browser, WAIT_S).until(lambda b: "q=backend-7f3a" in b.current_url)
    assert texts(browser, "#persons tbody tr td:first-child a") == ["alice@example.com"]
    browser.save_screenshot(str(screenshot_dir() / "explorer-search.png"))


def test_a_refused_merge_shows_its_warning(browser: WebDriver) -> None:
    with LocalServer() as server:
        server.engine.ingest([identify("alice", "a-anon"), identify("bob", "b-anon")])
        server.engine.ingest([identify("alice", "bob")])  # bob is identified: refused
        open_person(browser, server, "alice")
        refused = browser.find_element(By.CSS_SELECTOR, "#merges tr.outcome-refused")
        assert "refused" in refused.text and "cannot_merge_already_identified" in refused.text
        warnings = texts(browser, "#person-warnings tbody tr")
        assert len(warnings) == 1 and "cannot_merge_already_identified" in warnings[0]
        assert "sourcePersonDistinctId" in warnings[0]
        path = screenshot_dir() / "explorer-refused-merge.png"
        browser.save_screenshot(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")


def test_the_page_refreshes_as_events_arrive(browser: WebDriver) -> None:
    with LocalServer() as server:
        server.engine.ingest([event("$pageview", "first-visitor")])
        browser.get(server.explorer_url)
        browser.execute_script("window.stillTheSamePage = true;")
        server.engine.ingest([event("$pageview", "second-visitor")])
        WebDriverWait(browser, WAIT_S).until(
            lambda b: len(b.find_elements(By.CSS_SELECTOR, "#persons tbody tr")) == 2
        )
        assert browser.execute_script("return window.stillTheSamePage") is True  # no reload
