"""Headless Chromium for the tests of `softco serve`'s pages (selenium), and the server they talk to.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); browser tests skip, saying so,
only when they are not installed. The browser reaches 127.0.0.1 only: its proxy is a closed port (loopback
bypasses it) and every host name resolves to nothing; :func:`requests_made` lists what a page asked for.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from softco.web.server import Serving, prepare, start_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or not Path(CHROMEDRIVER).is_file(),
    reason="headless Chromium is not installed (apt-get install chromium chromium-driver)",
)


@contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--proxy-server=127.0.0.1:9",  # anything not on loopback would go nowhere
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile / 'chromium-profile'}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    home = profile / "home"  # Chromium writes its config and caches under HOME: keep them in the tmp dir
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home)}
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=opts)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        yield driver
    finally:
        driver.quit()


def requests_made(driver: webdriver.Chrome) -> list[str]:
    """The URLs the pages asked for since the last call (Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@contextmanager
def serving(out: Path, local: bool | None = None) -> Iterator[Serving]:
    """`softco serve OUT` on a free port of 127.0.0.1, in a thread, stopped at the end."""
    server = start_thread(prepare(out, "127.0.0.1", 0, local=local))
    try:
        yield server
    finally:
        server.stop()
        for child in server.config.children:
            if child.poll() is None:
                child.kill()
            child.wait()
