"""The pages a person opens after a run, in a real browser (Debian's chromium, offline): the scorecard across the
papers, the top of a report, a model card, and `dvc plots show` — every panel drawn without the internet.
Screenshots of them go to $ALLREPRO_SCREENSHOTS when it is set (the README's pictures under docs/ come from here)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import run

pytestmark = pytest.mark.xdist_group("tiny-b")  # beside tests/test_dag.py, on the other worker: a copy of its project


@pytest.fixture(scope="module")
def tiny(tiny_b):
    """This module's tiny project: the copy the group "tiny-b" shares (conftest.tiny_b), not tests/test_dag.py's."""
    return tiny_b


SHOTS = os.environ.get("ALLREPRO_SCREENSHOTS")


def open_page(browser, path: Path, name: str, height: int = 1300):
    browser.set_window_size(1280, height)
    browser.get(path.resolve().as_uri())
    time.sleep(0.5)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
    return browser


def test_the_scorecard_page_has_a_row_and_a_verdict_per_claim_and_working_links(tiny, browser):
    project, _ = tiny
    page = open_page(browser, project / "reports/index.html", "scorecard")
    rows = page.execute_script("return document.querySelectorAll('table tr td:last-child').length")
    claims = sum(1 for line in (project / "reports/scorecard.csv").read_text().splitlines()[1:] if line)
    assert rows == claims > 0, (rows, claims)
    links = page.execute_script("return [...document.querySelectorAll('a')].map(a => a.href)")
    assert links and all(Path(link.removeprefix("file://")).exists() for link in links), links


def test_a_report_opens_on_its_summary(tiny, browser):
    project, _ = tiny
    page = open_page(browser, project / "reports/patel/report.html", "report")
    headings = page.execute_script("return [...document.querySelectorAll('h1, h2')].map(h => h.textContent.replace('¶', '').trim())")
    assert headings[:2] == [headings[0], "Summary"] and headings.index("Summary") < headings.index("Details"), headings
    summary_top = page.execute_script(
        "return [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('Summary')).getBoundingClientRect().top")
    assert summary_top < 400  # the answer is on the first screen
    overflow = page.execute_script(  # nothing wider than the window makes the page scroll sideways
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert overflow


def test_the_model_card_page(tiny, browser):
    project, _ = tiny
    page = open_page(browser, project / "bundles/patel/model_card.html", "model_card")
    text = page.execute_script("return document.body.innerText")
    assert "Intended use" in text and "Audit verdicts" in text and "not for diagnosis" in text


def test_dvc_plots_show_draws_every_panel_offline(tiny, browser):
    """`dvc plots show` as the README writes it: its page carries Vega itself (.dvc/plots.html), loads nothing
    from the internet, and in Chromium every Vega panel is drawn with marks and every image loads."""
    project, env = tiny
    out = run(["dvc", "plots", "show"], project, env).stdout
    index = Path(out.strip().splitlines()[-1].removeprefix("file://"))
    html = index.read_text()
    assert "cdn.jsdelivr" not in html and "<script src=" not in html and "window.vegaEmbed" in html
    page = open_page(browser, index, "dvc_plots", height=1600)
    time.sleep(1)
    panels = page.execute_script("""
        const divs = [...document.querySelectorAll('div.vega-embed')];
        return divs.map(d => d.querySelectorAll('svg path, svg rect, canvas').length);""")
    expected = html.count("vegaEmbed('#")
    assert expected and len(panels) == expected and all(n > 0 for n in panels), (expected, panels)
    images = page.execute_script("return [...document.querySelectorAll('img')].map(i => i.naturalWidth)")
    assert images and all(w > 0 for w in images)
