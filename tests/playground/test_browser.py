"""The playground in a real browser: Debian's Chromium driven by Selenium, headless.

The test reads what the page drew (SVG bars and lines, data attributes on the canvas), not
the event stream behind it, so a broken chart fails. It skips, saying why, when selenium,
chromium or chromium-driver is missing. With ``EMBER_PLAYGROUND_SCREENSHOTS=DIR`` it saves
the two states it checks as PNGs there (docs/images holds the committed ones).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.playground.server import PlaygroundServer
from ember.playground.session import LiveSession

CHROMEDRIVER = "/usr/bin/chromedriver"  # Debian's chromium-driver: Selenium downloads nothing
WAIT_S = 90


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    if not os.path.exists(CHROMEDRIVER):
        pytest.skip(f"{CHROMEDRIVER} is missing (Debian: apt-get install chromium-driver)")
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is missing (Debian: apt-get install chromium)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--disable-dev-shm-usage", "--window-size=1600,1250"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def server() -> Iterator[PlaygroundServer]:
    srv = PlaygroundServer(port=0, session=LiveSession({"samples": 200}, interval=0.2)).start()
    yield srv
    srv.close()


# Each view is read in one script: the page redraws it several times a second.
_READ_BARS = """
const svg = document.getElementById("gradients");
const bars = [...svg.querySelectorAll("rect.grad-bar")];
return [bars.map((b) => [Number(b.getAttribute("height")), Number(b.dataset.rms)]),
        Number(svg.dataset.decadePx)];
"""


def _gap(driver: Any, layers: int) -> float | None:
    """Orders of magnitude between the drawn bars of the last and the first quarter of the
    layers (what ember's vanishing_gradients detector compares); None until all are drawn."""
    bars, decade = driver.execute_script(_READ_BARS)
    if len(bars) != layers or not all(rms > 0 for _, rms in bars):
        return None
    k = max(1, layers // 4)
    first, last = bars[:k], bars[-k:]
    drawn = (sum(h for h, _ in last) - sum(h for h, _ in first)) / k / decade
    labelled = sum(math.log10(r) for _, r in last) - sum(math.log10(r) for _, r in first)
    assert abs(drawn - labelled / k) < 0.05, (drawn, labelled / k)  # the bars show the values
    return drawn


def _findings(driver: Any) -> list[str]:
    script = 'return [...document.querySelectorAll("li.finding")].map((li) => li.dataset.kind);'
    return driver.execute_script(script)


def _loss_points(driver: Any) -> list[list[float]]:
    points = driver.execute_script(
        'return document.getElementById("loss-train").getAttribute("points");'
    )
    return [[float(v) for v in p.split(",")] for p in points.split()]


def _screenshot(driver: Any, name: str) -> None:
    folder = os.environ.get("EMBER_PLAYGROUND_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"playground-{name}.png"))


def _severe(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_vanishing_gradients_and_residual_connections_in_the_browser(browser, server):
    """Sigmoid at depth 10, then residual connections, read off the drawn views; the buttons;
    a bad setting's message; no console errors."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver, wait = browser, WebDriverWait(browser, WAIT_S, poll_frequency=0.2)
    status = lambda: driver.find_element(By.ID, "status").text  # noqa: E731
    driver.get(server.url)
    wait.until(lambda d: status().startswith("ready · 3 × 8 tanh"))

    Select(driver.find_element(By.ID, "set-activation")).select_by_value("sigmoid")
    depth = driver.find_element(By.ID, "set-depth")
    depth.send_keys(Keys.CONTROL, "a")
    depth.send_keys("10", Keys.TAB)
    wait.until(lambda d: "10 × 8 sigmoid ·" in status())
    driver.find_element(By.ID, "start").click()

    # sigmoid at depth 10: the first layers' gradients orders of magnitude below the last
    wait.until(lambda d: (_gap(d, 11) or 0) > 4 and "vanishing_gradients" in _findings(d))
    wait.until(lambda d: len(_loss_points(d)) >= 5)  # a few epochs on the curve
    vanishing = _gap(driver, 11)
    assert driver.find_element(By.ID, "error").is_displayed() is False
    step, points = driver.execute_script(
        'const c = document.getElementById("boundary"); return [c.dataset.step, c.dataset.points];'
    )
    assert int(step) > 0 and int(points) == 200
    kinds, edges, listed = driver.execute_script("""
        const svg = document.getElementById("graph");
        return [[...svg.querySelectorAll("g.node")].map((n) => n.dataset.kind),
                svg.querySelectorAll("line.edge").length, Number(svg.dataset.edges)];""")
    assert kinds.count("param") == 22 and kinds.count("op") > 40  # 11 Linear layers
    assert edges == listed > len(kinds) - 2
    read_speeds = (
        'return [...document.querySelectorAll("#speed rect.speed-bar")]'
        ".map((b) => Number(b.dataset.ms));"
    )
    wait.until(lambda d: len(d.execute_script(read_speeds)) == 2)
    assert all(ms > 0 for ms in driver.execute_script(read_speeds))
    _screenshot(driver, "vanishing")

    # residual connections on: training restarts, and the gap closes
    driver.find_element(By.ID, "set-residual").click()
    wait.until(lambda d: "10 × 8 sigmoid residual" in status())
    wait.until(lambda d: len(_loss_points(d)) >= 8)
    wait.until(lambda d: (_gap(d, 11) or 99) < 2 and "vanishing_gradients" not in _findings(d))
    closed = _gap(driver, 11)
    ys = [y for _, y in _loss_points(driver)]
    assert max(ys) - min(ys) > 1  # the loss curve moves (pixels)
    _screenshot(driver, "residual")
    assert _severe(driver) == []
    print(f"gradient gap: {vanishing:.1f} decades (sigmoid, depth 10), {closed:.1f} (residual)")

    # pause, step and reset
    driver.find_element(By.ID, "pause").click()
    wait.until(lambda d: status().startswith("paused"))
    step = int(status().split(" · step ")[1].split()[0])
    driver.find_element(By.ID, "step").click()
    wait.until(lambda d: f" · step {step + 1} · " in status())
    driver.find_element(By.ID, "reset").click()
    wait.until(lambda d: status().startswith("ready") and " · step 0 · " in status())
    wait.until(lambda d: _loss_points(d) == [] and _gap(d, 11) is None)

    # a bad setting: the server's message on the page, and the control marked
    width = driver.find_element(By.ID, "set-width")
    width.send_keys(Keys.CONTROL, "a")
    width.send_keys("1000", Keys.TAB)
    error = driver.find_element(By.ID, "error")
    wait.until(lambda d: error.is_displayed())
    assert error.text == "width: 1000 is out of range: expected an integer from 1 to 64"
    assert "bad" in width.get_attribute("class")
    assert all("400 (Bad Request)" in m for m in _severe(driver))
