"""`allrepro serve` on the bundles of the tiny DAG run (a copy: conftest.tiny_b), in a real browser: Debian's
chromium driven by Selenium through Debian's chromedriver (nothing is downloaded)."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REAL_ZIP, SNAKEMAKE, run

pytestmark = pytest.mark.xdist_group("tiny-b")  # beside tests/test_dag.py, on the other worker: a copy of its project


@pytest.fixture(scope="module")
def tiny(tiny_b):
    """This module's tiny project: the copy the group "tiny-b" shares (conftest.tiny_b), not tests/test_dag.py's."""
    return tiny_b


SCREENSHOT = os.environ.get("ALLREPRO_SCREENSHOT")  # where to keep the page's picture (the README's comes from here)


@pytest.fixture(scope="module")
def bundles(tiny):
    project, env = tiny
    # the DAG, exports included: nothing to do after the whole run (and the earlier tests of this group)
    run([*SNAKEMAKE, "--rerun-triggers", "mtime", "input"], project, env)
    return project, env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(bundles, tmp_path_factory):
    project, env = bundles
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["allrepro", "serve", "--bundle", "bundles/patel", "--port", str(port),
                                 "--max-file-mb", "1"], cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(f"allrepro serve exited: {log.read_text()[-3000:]}")
                time.sleep(0.5)
        else:
            raise AssertionError(f"allrepro serve did not answer in 120 s: {log.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def a_test_image(project: Path, dest: Path) -> Path:
    """A real blood-smear image from the dataset when it is here; else a test image of the tiny run."""
    if REAL_ZIP.is_file():
        with zipfile.ZipFile(REAL_ZIP) as z:
            dest.write_bytes(z.read("Original/Pro/WBC-Malignant-Pro-001.jpg"))
        return dest
    import pandas as pd

    return project / pd.read_csv(project / "data/processed/patel/split/test.csv")["path"].iloc[0]


def test_the_page_shows_a_prediction_and_refuses_bad_files_with_the_reason(server, browser, bundles, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    project, _ = bundles
    image = a_test_image(project, tmp_path / "smear.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("a text file with an image's name")
    big = tmp_path / "big.png"  # noise does not compress: ~2.7 MiB, over the server's 1 MiB
    cv2.imwrite(str(big), np.random.default_rng(0).integers(0, 255, (960, 960, 3), dtype=np.uint8))

    browser.get(server)
    wait = WebDriverWait(browser, 120)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#warning-list li")))
    assert "not for diagnosis" in browser.find_element(By.ID, "warnings").text
    browser.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in (image, text, big)))
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Done"))

    results = {r.find_element(By.TAG_NAME, "strong").text.rstrip(": "): r
               for r in browser.find_elements(By.CSS_SELECTOR, "#results .result")}
    assert set(results) == {image.name, text.name, big.name}
    good = results[image.name]
    decision = good.find_element(By.CLASS_NAME, "decision").text
    assert decision.startswith("Decision: ") and decision.split(": ", 1)[1] in (
        "Benign", "Early", "Pre", "Pro", "no confident prediction")
    assert len(good.find_elements(By.CSS_SELECTOR, ".bar")) == 4  # one probability bar per class
    cams = good.find_elements(By.CSS_SELECTOR, "figure.gradcam img")
    assert len(cams) == 2 and all(browser.execute_script("return arguments[0].naturalWidth", c) == 224 for c in cams)
    # on demand: a decision per file from /api/predict (one request each), the pictures from one /api/gradcam
    # request for the one image that was scored, asked after its decision was shown
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert sum("/api/predict" in u for u in fetched) == 3 and sum("/api/gradcam" in u for u in fetched) == 1, fetched
    assert "not an image" in results[text.name].find_element(By.CLASS_NAME, "message").text
    assert "larger than the limit of 1 MiB" in results[big.name].find_element(By.CLASS_NAME, "message").text
    browser.execute_script("document.getElementById('results').scrollIntoView()")
    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_a_segmenting_bundle_returns_its_mask(bundles):
    from fastapi.testclient import TestClient

    from allrepro.predict import load_bundle
    from allrepro.serve import create_app

    project, _ = bundles
    client = TestClient(create_app(load_bundle(project / "bundles/idrees")), base_url="http://localhost")
    image = project / __import__("pandas").read_csv(project / "data/interim/mehradaria/segmented.csv")["source"].iloc[0]
    result = client.post("/api/predict", files=[("files", (image.name, image.read_bytes(), "image/jpeg"))]).json()
    assert result["results"][0]["mask"].startswith("data:image/png;base64,")
    assert client.get("/api/bundle").json()["segmented"] is True
