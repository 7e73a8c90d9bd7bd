"""Screenshots of the pages a person opens, for the README: headless Chromium, full page width, the first screen.

    .venv/bin/python docs/screenshot.py reports/index.html docs/scorecard.png [--width 1280] [--height 900]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def shoot(page: str, out: str, width: int, height: int, scroll: int = 0) -> None:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(page if "://" in page else Path(page).resolve().as_uri())
        if scroll:
            driver.execute_script(f"window.scrollTo(0, {scroll})")
        driver.save_screenshot(out)
    finally:
        driver.quit()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", help="a file or a URL")
    ap.add_argument("out", help="the .png to write")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--scroll", type=int, default=0, help="pixels down the page to start from")
    a = ap.parse_args()
    shoot(a.page, a.out, a.width, a.height, a.scroll)
