"""The playground's HTTP API: the page and its files, bad parameters as one JSON error line,
the event stream, and the ``ember playground`` command."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ember.cli import main
from ember.playground.server import PlaygroundServer
from ember.playground.session import LiveSession

TINY = {"samples": 60, "batch_size": 10, "depth": 2, "width": 4}


@pytest.fixture
def server() -> Iterator[PlaygroundServer]:
    srv = PlaygroundServer(port=0, session=LiveSession(TINY, interval=0.05)).start()
    yield srv
    srv.close()


def _get(srv: PlaygroundServer, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(srv.url + path.lstrip("/"), timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers["Content-Type"], e.read()


def _post(srv: PlaygroundServer, action: str, body: Any = None, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body or {}).encode()
    request = urllib.request.Request(srv.url + "api/" + action, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def test_the_page_and_its_files(server):
    status, kind, body = _get(server, "/")
    assert status == 200 and kind.startswith("text/html")
    assert b'src="/static/playground.js"' in body and b'<script src="http' not in body
    status, kind, body = _get(server, "/static/playground.js")
    assert status == 200 and kind.startswith("text/javascript") and b"EventSource" in body
    assert _get(server, "/static/playground.css")[0] == 200
    for path in ("/static/../session.py", "/static/nothing.js", "/admin"):
        status, kind, body = _get(server, path)
        assert status == 404 and kind.startswith("application/json") and b"error" in body


def test_settings_describe_every_control(server):
    status, _, body = _get(server, "/api/settings")
    settings = {s["name"]: s for s in json.loads(body)}
    assert settings["activation"]["choices"] == ["sigmoid", "tanh", "relu", "gelu"]
    assert settings["depth"]["kind"] == "int" and settings["noise"]["slider"]


@pytest.mark.parametrize(
    "action, body, raw, message",
    [
        ("configure", {"depth": "ten"}, None, "depth: expected an integer from 1 to 16, got 'ten'"),
        ("configure", {"lr": -1}, None, "lr: -1 is out of range"),
        ("configure", {"optimizer": "lbfgs"}, None, "optimizer: expected one of sgd, momentum"),
        ("configure", None, b"{depth: 3", "request body: not JSON"),
        ("configure", None, b"[1]", "settings: expected a JSON object"),
        ("fly", {}, None, "unknown action 'fly'"),
    ],
)
def test_bad_parameters_get_a_clear_json_error(server, action, body, raw, message):
    status, reply = _post(server, action, body, raw)
    assert status == 400 and message in reply["error"]
    assert "Traceback" not in reply["error"]


def test_controls_and_the_event_stream(server):
    status, reply = _post(server, "configure", {"depth": "3", "activation": "relu"})
    assert status == 200 and reply["config"]["depth"] == 3
    assert _post(server, "step") == (200, {"ok": True, "config": reply["config"]})
    with urllib.request.urlopen(server.url + "events", timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        snap = {"step": 0}
        while snap["step"] < 1:
            line = stream.readline()
            if line.startswith(b"data: "):
                snap = json.loads(line[6:])
    assert snap["config"]["activation"] == "relu" and len(snap["gradients"]) == 4
    _, _, body = _get(server, "/api/state")
    assert json.loads(body)["version"] >= snap["version"]


def test_cli_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["playground", "--help"])
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--no-browser" in out


def test_cli_port_in_use_is_one_error_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["playground", "--port", str(port), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ember: error: playground: cannot listen on 127.0.0.1:{port}")
    assert "--port 0" in err and len(err.strip().splitlines()) == 1
