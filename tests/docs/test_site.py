"""The documentation site: ``mkdocs build --strict``, the course's pages and examples, and the
built site in headless Chromium.

The build test skips, saying why, when mkdocs (the ``docs`` extra) is missing; the browser tests
also skip without selenium, chromium or chromium-driver. With ``EMBER_SITE_SCREENSHOTS=DIR`` the
browser test saves its three pages as ``site-*.png`` there (docs/images holds the committed ones).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.playground.session import SETTINGS, validate

ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND_LINK = re.compile(r"\(http://127\.0\.0\.1:8765/\?([^)\s]+)\)")
BOOLS = {s.name for s in SETTINGS if s.kind == "bool"}
SITE_PAGES = {"home": "index.html", "course": "course/perceptron.html", "api": "api/nn.html"}


def _build_course() -> Any:
    spec = importlib.util.spec_from_file_location("build_course", ROOT / "scripts/build_course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _course_nav() -> list[str]:
    """The course pages' names, in the order of mkdocs.yml's nav."""
    text = (ROOT / "mkdocs.yml").read_text()
    return re.findall(r"^\s+- [^:\n]+: course/(\w+)\.md$", text, flags=re.M)


def _playground_queries(page: Path) -> list[dict[str, Any]]:
    """The settings of each playground link on ``page``, typed as the page's script sends them."""
    return [_typed(query) for query in PLAYGROUND_LINK.findall(page.read_text())]


def _typed(query: str) -> dict[str, Any]:
    pairs = urllib.parse.parse_qsl(query, strict_parsing=True)
    return {k: v == "true" if k in BOOLS else v for k, v in pairs}


def test_every_course_page_has_its_example_output_figure_and_playground_link(tmp_path) -> None:
    course = _build_course().COURSE
    assert _course_nav() == list(course)
    for name in course:
        page = ROOT / "docs/course" / f"{name}.md"
        text = page.read_text()
        assert f"python examples/{name}.py" in text and (ROOT / f"examples/{name}.py").exists()
        assert f"](figures/{name}.png)" in text and (page.parent / f"figures/{name}.png").exists()
        assert (page.parent / f"output/{name}.txt").exists()
        queries = _playground_queries(page)
        assert queries, f"{page.name} links to no playground setting"
        for settings in queries:
            validate(settings)  # a bad or unknown setting raises SettingError


def test_build_course_writes_an_examples_output_and_figure(tmp_path: Path) -> None:
    _build_course().main(["--fast", "--out", str(tmp_path), "forward_backward"])
    printed = (tmp_path / "output/forward_backward.txt").read_text()
    assert "gradcheck" in printed and "wrote figures/forward_backward.png" in printed
    assert (tmp_path / "figures/forward_backward.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict`` (any warning fails it)."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_site_builds_strictly_and_loads_nothing_from_elsewhere(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) == len(list((ROOT / "docs").rglob("*.md"))) + 1  # every page, and 404
    for name in SITE_PAGES.values():
        assert (site / name).exists()
    external = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//""")
    for page in pages:
        assert not external.search(page.read_text()), f"{page} loads a remote asset"


@pytest.fixture
def site_url(site: Path) -> Iterator[str]:
    """The built site served over HTTP on a free loopback port."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


_READ_PAGE = """
const links = [...document.querySelectorAll("nav.md-nav a.md-nav__link[href]")];
const code = [...document.querySelectorAll("pre code")].map((c) => c.textContent);
const imgs = [...document.querySelectorAll("article img")];
return {
  nav: links.map((a) => a.href),
  code: code,
  figures: imgs.map((i) => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]),
  resources: performance.getEntriesByType("resource").map((r) => r.name),
  title: document.querySelector("article h1").textContent,
};
"""


def test_site_pages_render_in_chromium(browser, site_url: str) -> None:
    """Home, a course page and an API page: navigation, code blocks, figures, nothing remote."""
    from selenium.webdriver.support.ui import WebDriverWait

    folder = os.environ.get("EMBER_SITE_SCREENSHOTS")
    checked_links: set[str] = set()
    figures = {}
    for key, path in SITE_PAGES.items():
        browser.get(site_url + path)
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        page = browser.execute_script(_READ_PAGE)
        assert len(page["nav"]) > 20, (path, page["nav"])
        assert any(c.strip() for c in page["code"]), f"{path} shows no code block"
        assert all(ok for _, ok in page["figures"]), page["figures"]
        figures[key] = [src for src, _ in page["figures"]]
        assert all(r.startswith(site_url) for r in page["resources"]), page["resources"]
        for link in {u.split("#")[0] for u in page["nav"]} - checked_links:
            assert link.startswith(site_url)
            with urllib.request.urlopen(link) as reply:  # every nav entry leads to a page
                assert reply.status == 200
            checked_links.add(link)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(Path(folder) / f"site-{key}.png"))
    assert "figures/perceptron.png" in figures["course"]
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_course_links_configure_the_playground(browser, server) -> None:
    """Every playground link of the course, opened against a live server, sets its controls."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    queries = {
        query
        for name in _build_course().COURSE
        for query in PLAYGROUND_LINK.findall((ROOT / "docs/course" / f"{name}.md").read_text())
    }
    read = "return document.getElementById('set-' + arguments[0])"
    for query in sorted(queries):
        browser.get(f"{server.url}?{query}")
        settings = _typed(query)
        last = list(settings)[-1]

        def shown(driver: Any, name: str = last) -> bool:
            control = driver.execute_script(read, name)
            if control is None:  # the controls are not built yet
                return False
            value = control.is_selected() if name in BOOLS else control.get_attribute("value")
            return str(value).lower() == str(settings[name]).lower()

        WebDriverWait(browser, 30).until(shown)
        for name in settings:
            assert shown(browser, name), (query, name)
        assert not browser.find_element(By.ID, "error").is_displayed(), query
    browser.get(f"{server.url}?depth=99")
    error = browser.find_element(By.ID, "error")
    WebDriverWait(browser, 30).until(lambda d: error.is_displayed())
    assert error.text.startswith("depth: 99 is out of range")
