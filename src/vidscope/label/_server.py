"""The local HTTP server of a labelling session (standard library ``http.server``).

Every request must carry the session token (``?token=`` or the ``X-Vidscope-Token``
header) and a ``Host`` (and, when sent, ``Origin``) naming this server, which stops other
web pages from reading or changing labels, also through DNS rebinding. Videos are served
by their position in the session's list only (``/media/<n>``): no part of a request path is
ever used as a file path. Actions are JSON ``POST``s; labels must be one of the classes.
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..errors import VidscopeError

if TYPE_CHECKING:
    from ._app import LabelApp

MAX_BODY = 1 << 20
CHUNK = 1 << 16
_ROUTES = {
    ("GET", re.compile(r"/")): "page",
    ("GET", re.compile(r"/api/state")): "state",
    ("GET", re.compile(r"/api/video/(\d{1,9})")): "video_info",
    ("GET", re.compile(r"/media/(\d{1,9})")): "media",
    ("POST", re.compile(r"/api/actions")): "actions",
}


class LabelServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`LabelApp`."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, app: LabelApp, host: str, port: int) -> None:
        self.app = app
        super().__init__((host, port), _Handler)
        self.port = int(self.server_address[1])
        names = {"127.0.0.1", "localhost", host}
        if host in ("0.0.0.0", "::", ""):  # every interface: this machine's own names too
            names = (names - {host}) | own_names()
        self.allowed_hosts = {
            f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in names
        }

    def start(self) -> threading.Thread:
        """Serve in a background thread (returned)."""
        thread = threading.Thread(target=self.serve_forever, name="vidscope-label", daemon=True)
        thread.start()
        return thread


def own_names() -> set[str]:
    """This machine's host names and addresses (what other machines put in ``Host``)."""
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    return names | {str(info[4][0]) for info in infos}


class _Handler(BaseHTTPRequestHandler):
    server: LabelServer
    protocol_version = "HTTP/1.1"
    server_version = "vidscope-label"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the CLI prints the address; errors come back to the page

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._send_json({"error": "method not allowed"}, HTTPStatus.METHOD_NOT_ALLOWED)

    do_DELETE = do_PATCH = do_PUT

    # ------------------------------------------------------------------ checks

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        refusal = self._refusal(query)
        if refusal is not None:
            self._send_json({"error": refusal}, HTTPStatus.FORBIDDEN)
            return
        for (m, pattern), name in _ROUTES.items():
            match = pattern.fullmatch(url.path)
            if match and m == method:
                try:
                    getattr(self, "_" + name)(*match.groups())
                except VidscopeError as exc:
                    body = {"error": str(exc), "applied": getattr(exc, "applied", None)}
                    self._send_json(body, HTTPStatus.BAD_REQUEST)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
        self._send_json({"error": "not found"}, HTTPStatus.NOT_FOUND)

    def _refusal(self, query: dict[str, list[str]]) -> str | None:
        """Why the request is refused (foreign Host/Origin, missing token), or ``None``."""
        host = self.headers.get("Host", "")
        if host not in self.server.allowed_hosts:
            return "unknown Host header (open the address vidscope label printed)"
        origin = self.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in self.server.allowed_hosts:
            return "cross-origin request refused"
        given = self.headers.get("X-Vidscope-Token") or (query.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.server.app.token.encode()):
            return "missing or wrong session token (open the address vidscope label printed)"
        return None

    # ------------------------------------------------------------------ routes

    def _page(self) -> None:
        body = self.server.app.page().encode("utf-8")
        self._send(body, "text/html; charset=utf-8", extra={"Cache-Control": "no-store"})

    def _state(self) -> None:
        self._send_json(self.server.app.state())

    def _video_info(self, n: str) -> None:
        self._send_json(self.server.app.video_info(int(n)))

    def _actions(self) -> None:
        if self.headers.get_content_type() != "application/json":
            self._send_json({"error": "expected application/json"}, HTTPStatus.BAD_REQUEST)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._send_json({"error": "bad request size"}, HTTPStatus.BAD_REQUEST)
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._send_json({"error": "body is not JSON"}, HTTPStatus.BAD_REQUEST)
            return
        client, actions = body.get("client"), body.get("actions")
        if not isinstance(client, str) or not isinstance(actions, list) or len(client) > 64:
            self._send_json({"error": "expected {client, actions}"}, HTTPStatus.BAD_REQUEST)
            return
        self._send_json(self.server.app.apply(client, actions))

    def _media(self, n: str) -> None:
        path = self.server.app.media_path(int(n))
        if path is None:
            self._send_json({"error": "no playable file for this video"}, HTTPStatus.NOT_FOUND)
            return
        self._send_file(path)

    # ------------------------------------------------------------------ responses

    def _send_file(self, path: Path) -> None:
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        rng = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if rng and (rng.group(1) or rng.group(2)):
            if rng.group(1):
                start = int(rng.group(1))
                end = min(int(rng.group(2)), size - 1) if rng.group(2) else size - 1
            else:
                start = max(0, size - int(rng.group(2)))
            if start > end or start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        ctype = {".webm": "video/webm"}.get(path.suffix.lower(), "video/mp4")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _send_json(self, obj: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(obj).encode("utf-8"), "application/json", status)

    def _send(
        self,
        body: bytes,
        ctype: str,
        status: HTTPStatus = HTTPStatus.OK,
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
