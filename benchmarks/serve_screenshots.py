"""The README's screenshots of `softco serve`, from a real run of the demo's recording, in headless Chromium.

    python benchmarks/serve_screenshots.py [--out docs]

Runs ``softco new "<the demo's requirement>" --llm replay:<the demo's recording> --approve prd --serve``:
the page while the PRD waits for a decision (``serve-gate.png``), then, approved from the page, the page of
the finished project (``serve-project.png``).
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shot(driver: object, path: Path) -> None:
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})  # type: ignore[attr-defined]
    path.write_bytes(base64.b64decode(data["data"]))
    print(path)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import chromium, serving
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from softco.cli import DEMO_REQUIREMENT, demo_recording

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        cmd = [sys.executable, "-m", "softco.cli", "new", DEMO_REQUIREMENT, "--name", "todo-demo", "--output", "out"]
        cmd += ["--llm", f"replay:{demo_recording()}", "--approve", "prd", "--serve", "--serve-port", "0"]
        proc = subprocess.Popen(cmd, cwd=base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            found = None
            for line in proc.stdout:  # the run's own page is announced once its project is made
                found = re.search(r"softco serve: (http://127\.0\.0\.1:\d+/p/todo-demo)$", line)
                if found:
                    break
            if not found:
                sys.exit("softco new --serve printed no address of the run's page")
            with chromium(base / "browser", width=1280, height=900) as driver:
                driver.get(found.group(1))
                WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "approve"))
                WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.diagrams"))
                shot(driver, args.out / "serve-gate.png")
                driver.find_element(By.ID, "approve").click()
                proc.communicate(timeout=300)  # without a terminal, the page's server stops with the run
                if proc.returncode != 0:
                    sys.exit(f"the run ended with exit code {proc.returncode}")
                with serving(base / "out") as srv:  # `softco serve out`
                    driver.get(srv.url + "p/todo-demo")
                    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.updates"))
                    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.diagrams"))
                    time.sleep(0.5)
                    driver.execute_script("document.getElementById('live').scrollIntoView()")
                    shot(driver, args.out / "serve-project.png")
            return 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


if __name__ == "__main__":
    raise SystemExit(main())
