"""A regular (non-editable) install carries the page: ember installed fresh into a new venv
serves it from ``ember playground``."""

from __future__ import annotations

import shutil
import signal
import site
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_fresh_install_serves_the_page(tmp_path):
    setuptools = pytest.importorskip("setuptools", reason="building the wheel needs setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} vs >= 77 (pyproject's build-system)")
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "ember", src / "ember", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "dist"), str(src)],
        check=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("ember-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for name in ("index.html", "playground.js", "playground.css"):
        assert f"ember/playground/static/{name}" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    # numpy from this environment: a path in a .pth file, whose own .pth files (this
    # checkout's editable install among them) are not processed
    packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(packages, "numpy-from-tests.pth").write_text(site.getsitepackages()[0] + "\n")
    where = subprocess.run(
        [str(python), "-c", "import ember.playground as p; print(p.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv))

    proc = subprocess.Popen(
        [str(venv / "bin" / "ember"), "playground", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        # Ctrl-C as at a terminal: an xdist worker ignores SIGINT, and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("ember playground: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        for path, needle in (("", b"playground.js"), ("static/playground.js", b"EventSource")):
            with urllib.request.urlopen(url + path, timeout=30) as r:
                assert r.status == 200 and needle in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0 and "stopped" in out, err
