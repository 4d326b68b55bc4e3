"""`softco report DIR`: one HTML file, opened in headless Chromium with the network off.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); the browser tests skip,
saying so, only when they are not installed.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
from helpers import run_cli
from review_helpers import generate, untested_req_answers
from scripted_project import answers
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or not Path(CHROMEDRIVER).is_file(),
    reason="headless Chromium is not installed (apt-get install chromium chromium-driver)",
)

HOSTILE = "<script>alert('pwned')</script> <img src=http://203.0.113.9/x.png> ![x](http://203.0.113.9/y.png)"


def make_report(project: Path, *args: str) -> Path:
    res = run_cli(["report", str(project), *args], project.parent)
    assert res.exit_code == 0, res.stdout + res.stderr
    path = Path(res.stdout.strip())
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def untested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The calculator with a REQ-3 nobody tests."""
    return generate(tmp_path_factory.mktemp("untested"), untested_req_answers())


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The calculator, with model output that tries to inject HTML, scripts and remote images."""
    script = copy.deepcopy(answers())
    prd = script["product_manager/write_prd/project"]
    prd["summary"] = HOSTILE
    prd["goals"].append(HOSTILE)
    prd["requirements"][0]["title"] = "Add <b onmouseover=alert(1)>now</b>"
    design = script["architect/write_design/project"]
    design["approach"] = f"[click](javascript:alert(1)) {HOSTILE}"
    design["class_diagram"] = (
        "classDiagram\n  class Ops {\n    +add(a, b) float\n  }\n  Ops <|-- Calc\n"
        '  note for Ops "<img src=http://203.0.113.9/z.png onerror=alert(1)> hi"'
    )
    design["sequence_diagram"] = "sequenceDiagram\n  this is ->>-> not ::: mermaid {{"
    return generate(tmp_path_factory.mktemp("hostile"), script)


@dataclass
class Page:
    driver: webdriver.Chrome
    url: str
    requests: list[dict[str, Any]]
    console: list[dict[str, Any]]

    def js(self, script: str) -> Any:
        return self.driver.execute_script(script)

    def screenshot(self, path: Path) -> None:
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--proxy-server=127.0.0.1:9",  # network off: anything that escaped would go nowhere
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    home = tmp_path / "home"  # Chromium writes its config and caches under HOME: keep them in the tmp dir
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home)}
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=opts)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield driver
    finally:
        driver.quit()


def open_page(driver: webdriver.Chrome, path: Path) -> Page:
    driver.get_log("performance")  # drop the browser's own start-up page
    driver.get_log("browser")
    url = path.resolve().as_uri()
    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-diagrams')") == "done"
    )
    requests = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requests.append(msg["params"])
    return Page(driver, url, requests, driver.get_log("browser"))


def assert_offline(page: Page) -> None:
    urls = [r["request"]["url"] for r in page.requests]
    assert page.url in urls  # the performance log works: it saw the page itself
    own = [u for u in urls if u != page.url and not u.startswith(("data:", "blob:", "chrome:", "about:"))]
    assert own == [], f"the report made network requests: {own}"
    severe = [e for e in page.console if e["level"] == "SEVERE"]
    assert severe == [], f"console errors: {severe}"


def test_report_goes_under_dot_softco_and_leaves_the_repo_clean(untested: Path) -> None:
    path = make_report(untested)
    assert path == untested / ".softco" / "report.html"
    assert not git.Repo(untested).is_dirty(untracked_files=True)
    html = path.read_text()
    assert "https://" not in html.split("<script>")[0]  # no stylesheet, font or image from elsewhere
    assert "Content-Security-Policy" in html


def test_report_marks_estimated_tokens_and_prices_none(untested: Path, tmp_path: Path) -> None:
    """Scripted answers: the report's tokens are estimates ("~"), not priced, and it says what the mark means."""
    html = make_report(untested, "-o", str(tmp_path / "r.html")).read_text()
    cards = html.split('class="cards"', 1)[1].split("</section>", 1)[0]
    assert '<div class="k">cost</div><div class="v">not priced</div>' in cards
    assert '<div class="k">tokens</div><div class="v">~' in cards and "(estimated)" in cards
    assert "$" not in cards.split("<table", 1)[0] and "unpriced" in cards
    assert "~ marks estimated tokens" in cards


def test_output_option_writes_where_told(untested: Path, tmp_path: Path) -> None:
    path = make_report(untested, "-o", str(tmp_path / "review.html"))
    assert path == tmp_path / "review.html"


def test_report_on_a_non_project_is_a_one_line_error(tmp_path: Path) -> None:
    res = run_cli(["report", str(tmp_path)], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "is not a softco project" in res.stderr


@needs_chromium
def test_report_in_headless_chromium(untested: Path, browser: webdriver.Chrome, tmp_path: Path) -> None:
    page = open_page(browser, make_report(untested))
    page.screenshot(tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_offline(page)

    figures = browser.find_elements(By.CSS_SELECTOR, "figure.mermaid-figure")
    assert len(figures) == 2
    for fig in figures:
        assert "rendered" in (fig.get_attribute("class") or "")
        assert len(fig.find_elements(By.CSS_SELECTOR, ".diagram svg")) == 1
    class_svg, sequence_svg = (f.find_element(By.CSS_SELECTOR, ".diagram svg") for f in figures)
    assert "ops" in class_svg.text
    assert "divide(1, 0)" in sequence_svg.text and "ValueError" in sequence_svg.text

    rows = browser.find_elements(By.CSS_SELECTOR, "#coverage tbody tr")
    assert [r.get_attribute("data-req") for r in rows] == ["REQ-1", "REQ-2", "REQ-3"]
    status = {r.get_attribute("data-req"): r.find_element(By.CSS_SELECTOR, ".status").text for r in rows}
    assert status == {"REQ-1": "passed", "REQ-2": "passed", "REQ-3": "NO TEST"}
    assert "flagged" in (rows[2].get_attribute("class") or "")
    assert "test_divide_by_zero_raises" in rows[1].text

    code = browser.find_element(By.ID, "code").text
    assert 'raise ValueError("cannot divide by zero")' in code
    assert "Dave (QA Engineer)" in browser.find_element(By.ID, "git").text
    assert "#8 test_report" in browser.find_element(By.ID, "board").text


@needs_chromium
def test_model_output_cannot_inject_markup(hostile: Path, browser: webdriver.Chrome) -> None:
    page = open_page(browser, make_report(hostile))
    assert_offline(page)
    assert page.js("return document.images.length") == 0
    assert page.js("return document.scripts.length") == 2  # mermaid and softco's own, nothing else
    assert page.js("return document.querySelectorAll('#prd b[onmouseover], a[href^=\"javascript:\"]').length") == 0
    assert "<script>alert('pwned')</script>" in browser.find_element(By.ID, "prd").text  # shown as text
    class_fig, sequence_fig = browser.find_elements(By.CSS_SELECTOR, "figure.mermaid-figure")
    assert "<img src=http://203.0.113.9/z.png" in class_fig.find_element(By.CSS_SELECTOR, ".diagram svg").text
    assert page.js("return document.querySelectorAll('svg image, svg img, svg foreignObject script').length") == 0
    # a diagram mermaid cannot parse is reported on the page, with its source, not drawn
    assert sequence_fig.find_elements(By.CSS_SELECTOR, ".diagram svg") == []
    assert "could not be drawn" in sequence_fig.find_element(By.CSS_SELECTOR, ".diagram-error").text
    assert "this is ->>-> not" in sequence_fig.find_element(By.CSS_SELECTOR, "pre.mermaid-src").text


# -- `softco sop graph --html` --------------------------------------------------------------------


@needs_chromium
def test_sop_graph_html_draws_the_company_offline(browser: webdriver.Chrome, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from softco.cli import app
    from softco.defaults import EXAMPLES_DIR

    example = EXAMPLES_DIR / "security_review"
    out = tmp_path / "graph.html"
    res = CliRunner().invoke(app, ["sop", "graph", str(example), "--html", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out)
    page = open_page(browser, out)
    assert_offline(page)
    assert page.js("return document.scripts.length") == 2  # mermaid and softco's own, nothing else
    figure = browser.find_element(By.CSS_SELECTOR, "figure.mermaid-figure")
    assert "rendered" in (figure.get_attribute("class") or "")
    svg = figure.find_element(By.CSS_SELECTOR, ".diagram svg").text
    assert "Erin · Security Reviewer" in svg and "review" in svg and "Customer" in svg
