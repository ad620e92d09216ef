"""The README's picture of ``gems serve``: the page on models/demo in headless Chromium, after typing a seed.

    python docs/screenshot.py [--model models/demo] [--out docs/gems-serve.png] [--width 1280]

Needs Debian's chromium and chromium-driver, and selenium (pip install -e '.[test]').
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from gems.web import create_app, running

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gems-serve.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1100)
    parser.add_argument("--seed", default="Main Theme")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="gems-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.width},{args.height}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        with running(create_app(args.model)) as url:
            driver.get(url)
            search = driver.find_element(By.CSS_SELECTOR, "input[type=search]")
            search.send_keys(args.seed)
            time.sleep(1.0)
            search.send_keys(Keys.ENTER)
            deadline = time.monotonic() + 20
            while len(driver.find_elements(By.CSS_SELECTOR, "[data-track-id]")) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # the previews' metadata
            driver.execute_script("document.activeElement.blur()")
            driver.save_screenshot(str(args.out))
    finally:
        driver.quit()
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
