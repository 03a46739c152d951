"""`cdreasoning demo` served for real on 127.0.0.1 (a subprocess, as a user starts it), used through its API
(gradio_client) and in headless Chromium (selenium driving Debian's chromium + chromium-driver; skipped with a
reason when they are absent). The page's numbers must be CDScorer's for the same pair, bad uploads must give a
message, concurrent requests must all be served, and stopping the server must leave nothing in its TMPDIR."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdreasoning.demo.app import OUTPUTS

pytest.importorskip("gradio", reason="the demo extra is not installed (pip install -e '.[demo]')")
gradio_client = pytest.importorskip("gradio_client")

pytestmark = pytest.mark.slow  # one server start: ~20 s alone, minutes on a busy 2-core machine

MAX_NEW_TOKENS = 12
OUT = {name: position for position, name in enumerate(OUTPUTS)}  # the API's outputs by name
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A `cdreasoning demo` process; `url`, its private TMPDIR `tmp`, `stop()` (SIGTERM, as a service would)."""

    def __init__(self, checkpoint: Path, examples: Path, root: Path):
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.log = root / "server.log"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = dict(os.environ, TMPDIR=str(self.tmp), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
        env.pop("GRADIO_TEMP_DIR", None)
        command = [
            sys.executable,
            "-m",
            "cdreasoning",
            "demo",
            "--model-path",
            str(checkpoint),
            "--device",
            "cpu",
            "--dtype",
            "float32",
            "--examples",
            str(examples),
            "--port",
            str(port),
            "--max-new-tokens",
            str(MAX_NEW_TOKENS),
        ]
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the demo server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"the demo server did not answer within {START_TIMEOUT_S} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def server(tiny_checkpoint, demo_set, tmp_path_factory):
    running = Server(tiny_checkpoint, demo_set, tmp_path_factory.mktemp("demo-server"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return gradio_client.Client(server.url, verbose=False, download_files=str(tmp_path_factory.mktemp("dl")))


@pytest.fixture(scope="module")
def scorer(tiny_checkpoint):
    from cdreasoning import CDScorer

    return CDScorer.from_pretrained(tiny_checkpoint, device="cpu", dtype="float32")


def _analyse(client, path_a, path_b, force_aligned=False):
    handle = gradio_client.handle_file
    return client.predict(handle(str(path_a)), handle(str(path_b)), force_aligned, api_name="/analyse")


def _pair(demo_set, aligned: bool):
    from cdreasoning.data.spcd import read_spcd_csv

    pair = next(p for p in read_spcd_csv(demo_set / "test.csv") if p.aligned == aligned)
    return demo_set / "images" / pair.image_a, demo_set / "images" / pair.image_b


def test_api_numbers_equal_cdscorer(client, scorer, demo_set):
    import colour

    from cdreasoning.data.images import load_pair

    path_a, path_b = _pair(demo_set, aligned=True)
    outputs = _analyse(client, path_a, path_b)
    numbers = outputs[OUT["numbers"]]
    assert "error" not in numbers, numbers
    expected = scorer.score(path_a, path_b)
    assert numbers["score"]["level"] == expected.level
    assert numbers["score"]["score"] == pytest.approx(expected.score, abs=1e-5)
    assert numbers["score"]["delta_v"] == pytest.approx(expected.delta_v, abs=1e-5)
    assert numbers["score"]["probabilities"] == pytest.approx(expected.probabilities, abs=1e-5)
    description = scorer.describe(path_a, path_b, max_new_tokens=MAX_NEW_TOKENS)
    assert numbers["description"] == description.to_dict()
    assert outputs[OUT["description"]] == description.text
    table = outputs[OUT["severities"]]["data"]
    assert [row[0] for row in table] == [
        "white balance",
        "brightness/contrast",
        "color contrast",
        "overall brightness",
        "overall color",
        "dark details",
        "bright details",
    ]
    images = load_pair(path_a, path_b, 1024)
    lab = [colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x / 255.0)) for x in (images.a, images.b)]
    ciede2000 = float(np.mean(colour.delta_E(lab[0], lab[1], method="CIE 2000")))
    assert numbers["baselines"]["ciede2000"] == pytest.approx(ciede2000, abs=1e-3)
    assert numbers["aligned"] and numbers["delta_e00_map"]["mean"] == pytest.approx(ciede2000, abs=1e-3)
    assert outputs[OUT["heat_map"]] is not None  # the heat map
    assert f"Score {expected.score:.2f}" in outputs[OUT["score"]]


def test_api_not_aligned_pair_says_so(client, demo_set):
    outputs = _analyse(client, *_pair(demo_set, aligned=False))
    numbers = outputs[OUT["numbers"]]
    assert numbers["aligned"] is False and "delta_e00_map" not in numbers
    # no map, and its box hidden (the API returns the component update) rather than left empty
    heat_map = outputs[OUT["heat_map"]]
    assert heat_map.get("visible") is False and heat_map.get("value") is None, heat_map
    assert "Not aligned" in outputs[OUT["colours"]]


def test_api_bad_uploads_give_a_message(client, demo_set, tmp_path):
    good = _pair(demo_set, aligned=True)[0]
    (tmp_path / "notes.txt").write_text("not a picture")
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    cases = {"notes.txt": "is not an image", "dot.png": "1×1 px", "cut.png": "corrupt or truncated"}
    for name, expected in cases.items():
        outputs = _analyse(client, good, tmp_path / name)
        status, numbers = outputs[OUT["status"]], outputs[OUT["numbers"]]
        assert "Cannot use this upload" in status and expected in status, status
        assert set(numbers) == {"error"} and "Traceback" not in numbers["error"]
    assert "error" not in _analyse(client, good, good)[OUT["numbers"]]  # the server is still fine


def test_concurrent_requests_are_all_served(client, demo_set):
    path_a, path_b = _pair(demo_set, aligned=True)
    results: list = []

    def ask():
        results.append(_analyse(client, path_a, path_b)[OUT["numbers"]]["score"]["score"])

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == 3 and max(results) - min(results) < 1e-9


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "headless browser test needs Debian's chromium and chromium-driver "
            "(apt-get update && apt-get install -y chromium chromium-driver)"
        )
    return chromium, driver


def test_page_in_headless_chromium(server, demo_set, tmp_path):
    chromium, driver_path = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the demo extra)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.get(server.url)
        WebDriverWait(browser, 120).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#reference-upload input[type=file]")
        )
        path_a, path_b = _pair(demo_set, aligned=True)
        started = time.perf_counter()
        browser.find_element(By.CSS_SELECTOR, "#reference-upload input[type=file]").send_keys(str(path_a))
        browser.find_element(By.CSS_SELECTOR, "#test-upload input[type=file]").send_keys(str(path_b))
        WebDriverWait(browser, 60).until(
            lambda b: (
                path_b.stem in b.find_element(By.ID, "test-upload").text
                and path_a.stem in b.find_element(By.ID, "reference-upload").text
            )
        )
        browser.find_element(By.ID, "compare").click()
        WebDriverWait(browser, 300).until(lambda b: "Score" in b.find_element(By.ID, "score").text)
        seconds = time.perf_counter() - started
        print(f"\nbrowser: upload of two 256 px images → result shown in {seconds:.1f} s")
        assert "level" in browser.find_element(By.ID, "score").text
        table = browser.find_element(By.ID, "attribute-table").text
        for attribute in ("white balance", "overall color", "bright details"):
            assert attribute in table
        assert "CIEDE2000" in browser.find_element(By.ID, "baselines").text
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1400, max(1800, int(height)))
        screenshot = tmp_path / "demo.png"
        assert browser.save_screenshot(str(screenshot))
        assert Image.open(screenshot).size[0] >= 1000

        # One click on an example pair runs it; a bad upload gives a line on the page, not a traceback.
        browser.get(server.url)
        example = WebDriverWait(browser, 120).until(
            lambda b: b.find_elements(By.XPATH, "//button[contains(., 'two captures')]")
        )[0]
        example.click()
        WebDriverWait(browser, 300).until(lambda b: "Not aligned" in b.find_element(By.ID, "colours").text)
        browser.get(server.url)
        WebDriverWait(browser, 120).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#reference-upload input[type=file]")
        )
        (tmp_path / "notes.png").write_text("not a picture")
        browser.find_element(By.CSS_SELECTOR, "#reference-upload input[type=file]").send_keys(
            str(tmp_path / "notes.png")
        )
        browser.find_element(By.CSS_SELECTOR, "#test-upload input[type=file]").send_keys(str(path_b))
        WebDriverWait(browser, 60).until(lambda b: path_b.stem in b.find_element(By.ID, "test-upload").text)
        browser.find_element(By.ID, "compare").click()
        WebDriverWait(browser, 120).until(lambda b: "Cannot use" in b.find_element(By.ID, "status").text)
        status = browser.find_element(By.ID, "status").text
        assert "reference image (notes.png) is not an image" in status and "Traceback" not in status
    finally:
        browser.quit()


def test_stopping_the_server_leaves_no_uploads(server):
    assert server.stop() == 0, server.log.read_text()
    left = sorted(p.name for p in server.tmp.iterdir() if not p.name.startswith("torchinductor"))
    assert left == [], f"left in the server's TMPDIR: {left}"
