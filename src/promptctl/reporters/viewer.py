"""`promptctl view`: the HTML report of recent runs, served read-only on a loopback address."""

from __future__ import annotations

import ipaddress
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from promptctl.errors import UsageError
from promptctl.evals import review, runs
from promptctl.project.config import Project

RECENT = 20  # runs listed to switch between
_HEADERS = {
    # The page carries its own CSP meta tag; the header says the same for the whole response.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "script-src {script}; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def check_loopback(host: str) -> None:
    """Refuse any address but a loopback one: the report holds prompts and replies."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False  # a name could resolve anywhere; only literal addresses are accepted
    if not loopback:
        raise UsageError(
            f"promptctl view serves on a loopback address only, not {host!r}",
            hint="use --host 127.0.0.1 (the default) or ::1; to share a report, "
            "write a file with `promptctl report RUN -o report.html`",
        )


def browser_available(env: dict[str, str] | None = None) -> bool:
    """A person at a terminal with a display: never in CI, under tests or over plain SSH."""
    env = dict(os.environ if env is None else env)
    if env.get("CI") or env.get("GITHUB_ACTIONS") or "PYTEST_CURRENT_TEST" in env:
        return False
    if not sys.stdout.isatty():
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], project: Project, **options: Any) -> None:
        import socket

        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.project = project
        self.options = options


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "promptctl-view"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows the address and errors, not every request

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _respond(self, *, head: bool) -> None:
        # DNS rebinding: a page elsewhere can point a name at 127.0.0.1; the Host header
        # still names it, so only the loopback address (or localhost) is served.
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "::1", "localhost"):
            self._send(HTTPStatus.FORBIDDEN, "text/plain", b"forbidden host\n", head)
            return
        url = urlsplit(self.path)
        if url.path != "/":
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n", head)
            return
        wanted = (parse_qs(url.query).get("run") or [None])[0]
        try:
            body, script_hash = self._page(wanted)
        except UsageError as e:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", f"{e.message}\n".encode(), head)
            return
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body, head, script_hash)

    def _page(self, wanted: str | None) -> tuple[bytes, str]:
        from promptctl.reporters import html

        project = self.server.project
        recent = runs.run_dirs(project)[-RECENT:][::-1]
        if wanted is not None:
            # Only the listed run directories: a query cannot name a path elsewhere.
            path = next((p for p in runs.run_dirs(project) if p.name == wanted), None)
            if path is None:
                raise UsageError(f"no run {wanted!r}")
        else:
            path = self.server.options.get("first") or (recent[0] if recent else None)
        if path is None:
            raise UsageError("no runs yet: run `promptctl eval` first")
        nav = [
            {"href": "/?run=" + quote(p.name), "label": p.name, "current": p == path}
            for p in recent
        ]
        reviewed = review.review_run(
            project, path, baseline_ref=self.server.options.get("baseline_ref")
        )
        text = html.render_html([reviewed], runs_nav=nav)
        return text.encode("utf-8"), f"'{html.script_hash()}'"

    def _send(
        self, status: HTTPStatus, ctype: str, body: bytes, head: bool, script: str = "'none'"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _HEADERS.items():
            self.send_header(name, value.format(script=script))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def serve(
    project: Project,
    first: Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    browser: bool = True,
    baseline_ref: str | None = None,
) -> None:
    """Serve until Ctrl-C. Prints the address (a free port unless one is given)."""
    check_loopback(host)
    try:
        server = _Server((host, port), project, first=first, baseline_ref=baseline_ref)
    except OSError as e:
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            hint="choose another --port, or leave it out for a free one",
        ) from None
    bound = server.server_address[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{bound}/"
    sys.stdout.write(f"serving {url} (read-only; Ctrl-C stops)\n")
    sys.stdout.flush()
    if browser and browser_available():
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.stderr.write("stopped\n")
    finally:
        server.server_close()
