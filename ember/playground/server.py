"""The playground's HTTP server: the page, a JSON API for the controls, and an event stream.

Routes: ``GET /`` (the page) and ``/static/NAME`` (its script and style), ``GET
/api/settings`` (every control: type, default, range), ``GET /api/state`` (the latest
snapshot), ``GET /events`` (snapshots as server-sent events) and ``POST /api/ACTION`` with
ACTION one of configure (a JSON object of settings), start, pause, step, reset. A bad request
gets ``{"error": "…"}`` with status 400, never a traceback. Standard library only: one thread
per connection, training in the session's own thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from ember.playground.session import SETTINGS, LiveSession, SettingError

__all__ = ["PlaygroundServer", "add_arguments", "run"]

KEEPALIVE_S = 15.0  # an idle event stream gets a comment line this often
MAX_BODY = 64 * 1024
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _static(name: str) -> bytes | None:
    """A file of the page (package data), or None when there is no such file."""
    files = resources.files("ember.playground") / "static"
    known = {f.name: f for f in files.iterdir() if f.is_file()}
    return known[name].read_bytes() if name in known else None


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._file("index.html")
            elif path.startswith("/static/"):
                self._file(path[len("/static/") :])
            elif path == "/api/settings":
                self._json([dataclasses.asdict(s) for s in SETTINGS])
            elif path == "/api/state":
                self._json(self.server.session.latest()[1])
            elif path == "/events":
                self._events()
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _file(self, name: str) -> None:
        body = _static(name)
        if body is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        suffix = name[name.rfind(".") :]
        self._send(HTTPStatus.OK, body, _TYPES.get(suffix, "application/octet-stream"))

    def _events(self) -> None:
        """Every new snapshot as one ``data:`` event, until the client or the server leaves."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        session, version = self.server.session, 0
        while not session.closed:
            latest, snapshot = session.wait(version, KEEPALIVE_S)
            if latest == version:
                self.wfile.write(b": keepalive\n\n")
            else:
                self.wfile.write(b"data: " + json.dumps(snapshot).encode() + b"\n\n")
                version = latest
            self.wfile.flush()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        action = path[len("/api/") :] if path.startswith("/api/") else ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise SettingError(f"request body: {length} bytes vs at most {MAX_BODY}")
            raw = self.rfile.read(length) if length else b""
            try:
                params = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise SettingError(f"request body: not JSON ({exc})") from None
            config = self.server.session.command(action, params)
            self._json({"ok": True, "config": config})
        except SettingError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # never a traceback on the page: one line, and one on stderr
            print(f"ember playground: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}")


class PlaygroundServer(ThreadingHTTPServer):
    """The page's server with its one ``LiveSession``; ``close()`` stops both."""

    daemon_threads = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        session: LiveSession | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.session = session or LiveSession()
        self.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if ":" in str(host):
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    def start(self) -> PlaygroundServer:
        """Serve from a background thread (tests, notebooks); returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="playground-http")
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop training, the event streams and the server."""
        self.session.close()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ember playground`` options."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on; 0 picks a free one (default 8765)",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    """Serve the playground until Ctrl-C."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"playground: --port {args.port} vs 0 to 65535")
    try:
        server = PlaygroundServer(args.host, args.port)
    except OSError as exc:
        raise OSError(
            f"playground: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
            "hint: --port N for another port, or --port 0 for any free one"
        ) from None
    print(f"ember playground: {server.url} (Ctrl-C stops it)", flush=True)
    if not _is_loopback(args.host):
        print(
            f"ember playground: warning: listening on {args.host}: anyone who can reach it can "
            "drive the training",
            file=sys.stderr,
        )
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("ember playground: stopped", flush=True)
    finally:
        server.session.close()
        server.server_close()
    return 0
