"""03 — the opening handshake over raw sockets: refusals and their order,
and what a successful upgrade answers. One shared daemon for the module."""
import base64
import hashlib
import json
import socket
import ssl

import pytest

from conftest import (WAIT, parse_http, raw_http, run, uniq, upgrade_request, ws_connect,
                      ws_key)


def tls_client_hello():
    """A real TLS ClientHello, as a browser pointed at wss:// on this port sends."""
    ctx = ssl.create_default_context()
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert hello[:1] == b"\x16", hello[:8]      # handshake record
    return hello


# (report id, request builder (port -> bytes), status, header that must be present)
REFUSALS = [
    ("userid-percent", lambda p: upgrade_request(p, "/ws/a%20b"), 400, None),
    ("userid-empty", lambda p: upgrade_request(p, "/ws/"), 400, None),
    ("userid-65", lambda p: upgrade_request(p, "/ws/" + "u" * 65), 400, None),
    ("userid-bad-char", lambda p: upgrade_request(p, "/ws/a!b"), 400, None),
    ("path-root", lambda p: upgrade_request(p, "/"), 404, None),
    ("path-ws", lambda p: upgrade_request(p, "/ws"), 404, None),
    ("path-two-segments", lambda p: upgrade_request(p, "/ws/a/b"), 404, None),
    ("path-other", lambda p: upgrade_request(p, "/api/v1/send"), 404, None),
    ("method-post", lambda p: upgrade_request(p, "/ws/bob", method="POST"), 400, None),
    ("no-upgrade", lambda p: upgrade_request(p, drop=["Upgrade"]), 426,
     ("upgrade", "websocket")),
    ("upgrade-not-websocket", lambda p: upgrade_request(p, drop=["Upgrade"],
                                                        add=[("Upgrade", "h2c")]), 426,
     ("upgrade", "websocket")),
    ("no-connection-upgrade", lambda p: upgrade_request(p, drop=["Connection"],
                                                        add=[("Connection", "keep-alive")]),
     426, ("upgrade", "websocket")),
    ("version-8", lambda p: upgrade_request(p, version="8"), 426,
     ("sec-websocket-version", "13")),
    ("no-version", lambda p: upgrade_request(p, drop=["Sec-WebSocket-Version"]), 426,
     ("sec-websocket-version", "13")),
    ("key-not-base64", lambda p: upgrade_request(p, key="not base64!"), 400, None),
    ("key-15-bytes", lambda p: upgrade_request(p, key=base64.b64encode(b"x" * 15).decode()),
     400, None),
    ("key-17-bytes", lambda p: upgrade_request(p, key=base64.b64encode(b"x" * 17).decode()),
     400, None),
    ("no-key", lambda p: upgrade_request(p, drop=["Sec-WebSocket-Key"]), 400, None),
    # the order of the checks: the first failure is the answer
    ("order-path-before-upgrade", lambda p: upgrade_request(p, "/ws/a/b", drop=["Upgrade"]),
     404, None),
    ("order-userid-before-upgrade", lambda p: upgrade_request(p, "/ws/a%20b",
                                                              drop=["Upgrade"]), 400, None),
    ("order-version-before-key", lambda p: upgrade_request(p, version="8", key="bad"), 426,
     ("sec-websocket-version", "13")),
    ("not-http-tls", lambda p: tls_client_hello(), 400, None),
    ("not-http-garbage", lambda p: b"\x00\xff\xfe\x01garbage\r\n\r\n", 400, None),
]


@pytest.mark.parametrize("build,status,header", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_handshake_refused(shared_daemon, build, status, header):
    """Refused with the right status, a text/plain body, Connection: close, and
    the server closes the connection."""
    resp = raw_http(shared_daemon.port, build(shared_daemon.port), timeout=WAIT)
    got, headers, body = parse_http(resp)
    assert got == status, f"expected {status}, got {resp[:200]!r}"
    assert "close" in headers.get("connection", "").lower(), headers
    assert headers.get("content-type", "").startswith("text/plain"), headers
    if "content-length" in headers:
        assert int(headers["content-length"]) == len(body), (headers, body)
    if header:
        name, value = header
        assert headers.get(name, "").lower() == value.lower(), headers


def test_oversized_head_refused(shared_daemon):
    """A request head over 8,192 bytes gets 431 or 400 (or, the contract allows
    it, no answer), and the connection is closed."""
    req = upgrade_request(shared_daemon.port, add=[("X-Pad", "p" * 9000)])
    resp = raw_http(shared_daemon.port, req)       # fails unless the server closes
    if resp:
        got, headers, _ = parse_http(resp)
        assert got in (400, 431), resp[:200]
        assert "close" in headers.get("connection", "").lower(), headers


def _accept(key):
    return base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def _read_frame(s):
    """One unmasked server frame from a blocking socket: (opcode, payload)."""
    def need(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            assert c, "connection closed mid-frame"
            b += c
        return b
    b0, b1 = need(2)
    assert not b1 & 0x80, "server frames must not be masked"
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(need(2), "big")
    elif n == 127:
        n = int.from_bytes(need(8), "big")
    return b0, need(n)


def _raw_upgrade(port, user, add=()):
    """Raw upgrade; returns (status, headers, first frame (b0, payload) or None)."""
    key = ws_key()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(upgrade_request(port, "/ws/" + user, key=key, add=add))
        buf = b""
        while b"\r\n\r\n" not in buf:
            c = s.recv(4096)
            assert c, f"closed during handshake: {buf!r}"
            buf += c
        head, rest = buf.split(b"\r\n\r\n", 1)
        status, headers, _ = parse_http(head + b"\r\n\r\n")
        frame = None
        if status == 101:
            assert headers.get("sec-websocket-accept") == _accept(key), headers
            assert rest == b"" or rest[:1] == b"\x81", rest[:10]
            # put back what came with the head (welcome may be in the same segment)
            sock = _Prefixed(s, rest)
            frame = _read_frame(sock)
        return status, headers, frame


class _Prefixed:
    def __init__(self, s, prefix):
        self.s, self.buf = s, prefix

    def recv(self, n):
        if self.buf:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        return self.s.recv(n)


def test_upgrade_accepted_raw(shared_daemon):
    """101 with the RFC 6455 accept key, upgrade headers, no extension even when
    permessage-deflate is offered, no subprotocol when none usable is offered;
    the first frame is an unmasked final text frame holding welcome."""
    user = uniq("raw")
    status, headers, frame = _raw_upgrade(
        shared_daemon.port, user,
        add=[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
             ("Sec-WebSocket-Protocol", "chat")])
    assert status == 101, headers
    assert headers.get("upgrade", "").lower() == "websocket", headers
    assert "upgrade" in headers.get("connection", "").lower(), headers
    assert "sec-websocket-extensions" not in headers, headers
    assert "sec-websocket-protocol" not in headers, headers
    b0, payload = frame
    assert b0 == 0x81, hex(b0)
    welcome = json.loads(payload)
    assert welcome.get("type") == "welcome" and welcome.get("user") == user, welcome


def test_upgrade_header_tokens_case_insensitive(shared_daemon):
    """Upgrade/Connection are token lists, case-insensitive."""
    user = uniq("tok")
    port = shared_daemon.port
    key = ws_key()
    req = (f"GET /ws/{user} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nupgrade: WebSocket\r\n"
           f"connection: keep-alive, UPGRADE\r\nsec-websocket-key: {key}\r\n"
           f"sec-websocket-version: 13\r\n\r\n").encode()
    resp = raw_http(port, req, until=b"\r\n\r\n")
    status, headers, _ = parse_http(resp)
    assert status == 101, resp[:200]
    assert headers.get("sec-websocket-accept") == _accept(key), headers


def test_subprotocol_zwsd_v1_selected(shared_daemon):
    user = uniq("sub")
    status, headers, frame = _raw_upgrade(shared_daemon.port, user,
                                          add=[("Sec-WebSocket-Protocol", "other, zwsd.v1")])
    assert status == 101
    assert headers.get("sec-websocket-protocol") == "zwsd.v1", headers

    async def body():       # and through a real client library
        ws, welcome = await ws_connect(shared_daemon, uniq("sub"), subprotocols=["zwsd.v1"])
        assert ws.subprotocol == "zwsd.v1"
        assert ws.extensions == [], "an extension was negotiated"
    run(body())
