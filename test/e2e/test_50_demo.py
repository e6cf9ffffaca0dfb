"""50 — the demo page (--demo on, zwsd(8)): what the WebSocket listener answers
at / and its assets (200 with the embedded files, their types and security
headers; HEAD; 405 for other methods; 404 when --demo is off, the default;
the config key and SIGHUP turn it on), and the page itself in a real headless
Chromium driven by playwright-core (test/browser/demo.test.mjs): two users on
different workers chat 1:1 and in a group, backend pushes move a progress
bar, a resume after leaving brings back what was missed, a second login shows
the "replaced" notice. Screenshots go to $ZWSD_BUILD/e2e-logs/demo/.

Chromium (Debian's chromium), node and playwright-core (test/browser, pinned)
are installed by scripts/deps.sh; when one is missing the browser test fails
and says so, it never skips."""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import (BUILD, LOGDIR, WAIT, parse_http, raw_http, run, upgrade_request,
                      ws_connect)
from test_10_api import api_flags, api_port
from test_31_reload import await_worker_reloads, write_conf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "demo")
BROWSER = os.path.join(ROOT, "test", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = os.path.join(LOGDIR, "demo")

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
CSP = "default-src 'self'; connect-src 'self' ws: wss:"


def get(port, path, method="GET", extra=""):
    req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()
    return parse_http(raw_http(port, req))


def test_demo_serves_the_embedded_page(make_daemon):
    d = make_daemon(demo="on")
    for path, (name, ctype) in ASSETS.items():
        with open(os.path.join(DEMO, name), "rb") as f:
            want = f.read()
        status, h, body = get(d.port, path)
        assert status == 200, (path, status, body[:200])
        assert body == want, f"{path}: the body is not demo/{name} as built"
        assert h["content-type"] == ctype, (path, h)
        assert h["content-length"] == str(len(want)), (path, h)
        assert h["cache-control"] == "no-cache", (path, h)
        assert h["x-content-type-options"] == "nosniff", (path, h)
        assert h["content-security-policy"].startswith(CSP), (path, h)
        assert h["connection"] == "close", (path, h)
        # HEAD: the same head, no body
        status, hh, body = get(d.port, path, "HEAD")
        assert status == 200 and body == b"", (path, status, body[:100])
        assert hh == h, (path, hh, h)
    # the query is not part of the path; other paths are still 404
    assert get(d.port, "/?since=x")[0] == 200
    for path in ("/index.html", "/demo.js/", "/DEMO.JS", "/ws", "/x"):
        assert get(d.port, path)[0] == 404, path
    # other methods on a page: 405 with Allow
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, h, _ = get(d.port, "/", method, "Content-Length: 2\r\n\r\nhi" if method == "POST" else "")
        assert status == 405 and h.get("allow") == "GET, HEAD", (method, status, h)
    # the page's request checks stay the handshake's: HTTP/1.0 and garbage are 400
    assert parse_http(raw_http(d.port, b"GET / HTTP/1.0\r\n\r\n"))[0] == 400
    # and the upgrade is untouched beside it
    resp = raw_http(d.port, upgrade_request(d.port, path="/"), require_close=True)
    assert parse_http(resp)[0] == 200, "an upgrade request for / gets the page, not a 101"

    async def body():
        ws, welcome = await ws_connect(d, "demo-user")
        assert welcome["user"] == "demo-user"
        await ws.close()
    run(body())


def test_demo_answer_survives_a_client_that_half_closes(make_daemon):
    """The request, then the client's FIN at once: the whole page still
    arrives (the answer is queued, written, and only then the conn ends)."""
    d = make_daemon(demo="on")
    with open(os.path.join(DEMO, "demo.js"), "rb") as f:
        want = f.read()
    with socket.create_connection(("127.0.0.1", d.port), timeout=WAIT) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)     # many writes
        s.sendall(b"GET /demo.js HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    status, _, body = parse_http(buf)
    assert status == 200 and body == want, (status, len(body), len(want))


def test_demo_is_off_by_default(make_daemon):
    d = make_daemon()
    for path in ASSETS:
        status, h, _ = get(d.port, path)
        assert status == 404, (path, status, h)
    assert get(d.port, "/", "POST")[0] == 404      # not a page: today's answer


def test_demo_config_key_and_reload(make_daemon, tmp_path):
    conf = str(tmp_path / "zwsd.conf")
    write_conf(conf, "demo = off\n")
    d = make_daemon(config=conf)
    assert get(d.port, "/")[0] == 404
    write_conf(conf, "demo = on\n")
    start = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    await_worker_reloads(d, start)
    assert get(d.port, "/")[0] == 200
    write_conf(conf, "demo = maybe\n")
    p = subprocess.run([os.path.join(BUILD, "zwsd"), "--config", conf, "--runtime-dir",
                        str(tmp_path / "rt")], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "demo" in p.stderr, (p.returncode, p.stderr)


def _browser_prerequisites():
    """What the browser test needs, each with how to get it; [] when all is there."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if not shutil.which("node"):
        missing.append("node (Debian package nodejs)")
    if not os.path.exists(os.path.join(BROWSER, "node_modules", "playwright-core", "package.json")):
        missing.append("playwright-core in test/browser/node_modules (npm ci there)")
    return missing


def test_demo_page_in_a_real_browser(make_daemon):
    missing = _browser_prerequisites()
    if missing:
        pytest.fail("the browser test cannot run, missing: " + "; ".join(missing)
                    + ". Run `sh scripts/deps.sh` (make does it when deps.sh changes).")
    d = make_daemon(demo="on", **api_flags())
    shutil.rmtree(SHOTS, ignore_errors=True)
    env = dict(os.environ,
               ZWSD_DEMO_URL=f"http://127.0.0.1:{d.port}/",
               ZWSD_API=f"http://127.0.0.1:{api_port(d)}",
               ZWSD_SEND=os.path.join(BUILD, "zwsd-send"),
               ZWSD_BROKER_PUB=f"ipc://{d.tmpdir}/pub",
               ZWSD_SHOTS=SHOTS,
               CHROMIUM=CHROMIUM)
    try:
        p = subprocess.run(["node", os.path.join(BROWSER, "demo.test.mjs")], cwd=BROWSER,
                           env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the browser test ran over 240 s:\n{e.stdout or ''}{e.stderr or ''}")
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"browser test failed (screenshots in {SHOTS}):\n{out}"
    steps = re.findall(r"^ok \d+ - ", p.stdout, re.M)
    assert len(steps) >= 10 and "not ok" not in p.stdout, out
    for name in ("demo-alice.png", "demo-bob.png", "demo-replaced.png", "demo-phone.png"):
        path = os.path.join(SHOTS, name)
        assert os.path.getsize(path) > 10000, f"{path} is missing or empty"
