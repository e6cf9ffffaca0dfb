"""10 — the HTTP API (zwsd-protocol(7) "Backend push (HTTP)"): push to a user,
a group, everyone; online counts; presence; /healthz; API key; errors;
keep-alive and pipelining.

Requests go through http.client (blocking, so async bodies run them in a
thread with asyncio.to_thread) or, for hostile and pipelined bytes, through
raw sockets. Every answer is checked for a Content-Length and, for JSON, for
Content-Type application/json and a compact body without a final newline.

Most error cases share one daemon (api_shared, --max-message 4096); tests
whose outcome depends on who is online start their own."""
import asyncio
import http.client
import json
import os
import re
import socket
import time

import pytest

from conftest import (RFC3339_MS, WAIT, started_daemon, connect_on_distinct_workers, free_port,
                      parse_http, raw_http, recv_json, run, send_json, uniq, ws_connect)

SHARED_MAX_MESSAGE = 4096


# --------------------------------------------------------------------------
# helpers (test_11_metrics imports them)

def api_flags(port=None):
    return {"api_listen": f"127.0.0.1:{port or free_port()}"}


def api_port(d):
    """The API port of a daemon started with api_flags()."""
    i = d.extra.index("--api-listen")
    return int(d.extra[i + 1].rsplit(":", 1)[1])


def start_api_daemon(make_daemon, *args, **flags):
    """make_daemon with the HTTP API on a free loopback port."""
    return make_daemon(*args, **api_flags(), **flags)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case name -> value
        self.body = body                # bytes

    def json(self):
        """The body as JSON, after checking how it was framed."""
        assert self.headers.get("content-type") == "application/json", self.headers
        text = self.body.decode("utf-8")
        obj = json.loads(text)
        assert text == json.dumps(obj, separators=(",", ":"), ensure_ascii=False), \
            f"body is not compact JSON: {text!r}"
        return obj

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def api_call(port, method, path, body=None, headers=None, conn=None):
    """One request; a fresh connection unless conn (an http.client connection
    to reuse) is given. Returns a Resp."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        assert hdrs.get("content-length") == str(len(data)), f"Content-Length vs body: {hdrs}"
        return Resp(r.status, hdrs, data)
    finally:
        if conn is None:
            c.close()


async def aapi(port, method, path, body=None, headers=None, conn=None):
    return await asyncio.to_thread(api_call, port, method, path, body, headers, conn)


def push(port, body, headers=None):
    return api_call(port, "POST", "/api/v1/send", body, headers)


def check_error(resp, status, code):
    assert resp.status == status, resp
    obj = resp.json()
    assert set(obj) == {"error", "reason"}, obj
    assert obj["error"] == code, obj
    assert isinstance(obj["reason"], str) and obj["reason"], obj
    return obj


def check_pushed(resp, status):
    """200 {"mid":…,"status":status}; returns the mid."""
    assert resp.status == 200, resp
    obj = resp.json()
    # an offline push is kept in the receiver's stream: "stored" (history)
    want = ["mid", "status", "stored"] if status == "offline" else ["mid", "status"]
    assert list(obj) == want and obj["status"] == status, obj
    assert obj.get("stored", True) is True, obj
    assert isinstance(obj["mid"], str) and obj["mid"], obj
    return obj["mid"]


def check_frame(frame, kind, sender, msg, mid=None, **fields):
    assert frame.get("type") == kind, frame
    assert frame.get("sender") == sender, frame
    assert "msg" in frame and frame["msg"] == msg and type(frame["msg"]) is type(msg), frame
    for k, v in fields.items():
        assert frame.get(k) == v, frame
    assert isinstance(frame.get("mid"), str) and frame["mid"], frame
    if mid is not None:
        assert frame["mid"] == mid, f"frame mid {frame['mid']} != API mid {mid}"
    assert RFC3339_MS.match(frame.get("createTime", "")), frame


async def join(ws, group, id):
    await send_json(ws, {"type": "join", "group": group, "id": id})
    ack = await recv_json(ws)
    assert ack == {"type": "ack", "id": id, "status": "joined"}, ack


async def wait_online(port, users, sessions, timeout=WAIT):
    """Poll /api/v1/online until it says users/sessions (session counts reach
    the broker in the workers' 1 s reports, so there is no event to await)."""
    deadline = time.monotonic() + timeout
    while True:
        r = await aapi(port, "GET", "/api/v1/online")
        assert r.status == 200, r
        got = r.json()
        assert list(got) == ["users", "sessions"], got
        if got == {"users": users, "sessions": sessions}:
            return got
        assert time.monotonic() < deadline, \
            f"online still {got}, expected users={users} sessions={sessions}"
        await asyncio.sleep(0.1)


def recv_responses(sock, n, timeout=WAIT):
    """Read exactly n HTTP responses (Content-Length framed) from sock;
    returns [(status, headers, body)] and whatever came after them."""
    buf = b""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"(?im)^content-length:\s*(\d+)\r?$", head)
            assert m, f"no Content-Length in {head!r}"
            clen = int(m.group(1))
            if len(rest) < clen:
                break
            out.append(parse_http(head + b"\r\n\r\n" + rest[:clen]))
            buf = rest[clen:]
            if len(out) == n:
                return out, buf
        left = deadline - time.monotonic()
        assert left > 0, f"got {len(out)} of {n} responses; pending {buf[:300]!r}"
        sock.settimeout(left)
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(out)} of {n} responses; {buf[:300]!r}"
        buf += chunk
    return out, buf


def closed_by_server(sock, timeout=WAIT):
    """True once the server closed (EOF or reset), reading and dropping bytes."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


@pytest.fixture(scope="module")
def _api_module_daemon(request):
    with started_daemon(request, ["--api-listen", f"127.0.0.1:{free_port()}",
                                  "--max-message", str(SHARED_MAX_MESSAGE)]) as d:
        yield d


@pytest.fixture
def api_shared(_api_module_daemon, request):
    """One API daemon for the stateless cases; a worker that changed under a
    test (a crash) fails that test."""
    d = _api_module_daemon
    request.node._zwsd_daemons = [d]
    before = d.worker_pids()
    assert d.running() and len(before) == d.workers, "shared API daemon unhealthy"
    yield d
    assert d.running() and d.worker_pids() == before, "worker processes changed (crash?)"


# --------------------------------------------------------------------------
# push

def test_push_to_user_delivered(make_daemon):
    """A push to a connected user reaches each of its sessions (one per
    worker, --sessions multi) as a chat from `system`, with the mid the API
    returned, and the API says delivered; a custom sender is stamped too."""
    d = start_api_daemon(make_daemon, sessions="multi")
    port = api_port(d)

    async def body():
        (b1, _, p1), (b2, _, p2) = await connect_on_distinct_workers(d, ["bob", "bob"])
        msg = {"progress": 40, "list": [1, "two", None], "ü": "日本"}
        r = await aapi(port, "POST", "/api/v1/send", {"receiver": "bob", "msg": msg})
        mid = check_pushed(r, "delivered")
        for ws in (b1, b2):
            check_frame(await recv_json(ws), "chat", "system", msg, mid, receiver="bob")
        r = await aapi(port, "POST", "/api/v1/send",
                       {"receiver": "bob", "msg": "hi", "sender": "billing-svc"})
        mid2 = check_pushed(r, "delivered")
        assert mid2 != mid
        for ws in (b1, b2):
            check_frame(await recv_json(ws), "chat", "billing-svc", "hi", mid2, receiver="bob")
        # scalar and null msg values pass through unchanged
        for v in (42, "text", None, True, [], 1.5):
            mid = check_pushed(await aapi(port, "POST", "/api/v1/send",
                                          {"receiver": "bob", "msg": v}), "delivered")
            for ws in (b1, b2):
                check_frame(await recv_json(ws), "chat", "system", v, mid)
    run(body())


def test_push_msg_forwarded_verbatim(make_daemon):
    """msg goes out exactly as the backend wrote it: not re-printed (1e16
    stays 1e16, 0.1 stays 0.1, spacing, escapes and big integers are kept),
    so a frame is never bigger than the push made it."""
    d = start_api_daemon(make_daemon)
    port = api_port(d)

    async def body():
        bob, _ = await ws_connect(d, "bob")
        for msg in ('[0.1,1e16,{"a" : 1}]',
                    '{ "big": 123456789012345678901234567890, "e": 1E+2, "z": -0,\n'
                    '  "s": "\\u00e9\\/\\"", "f": 1.50 }',
                    '"\\ud83d\\ude00"', '1e400'):
            raw = '{"receiver":"bob","msg":' + msg + '}'
            r = await aapi(port, "POST", "/api/v1/send", raw.encode())
            mid = check_pushed(r, "delivered")
            text = await asyncio.wait_for(bob.recv(), WAIT)
            assert '"msg":' + msg in text, f"msg not byte-exact in {text!r}"
            frame = json.loads(text)
            assert frame["mid"] == mid and frame["type"] == "chat", frame
            if msg != '1e400':
                assert frame["msg"] == json.loads(msg), frame
        # a key given twice counts once, the last, as jansson has it
        raw = b'{"receiver":"bob","msg":1,"msg":[2 ]}'
        check_pushed(await aapi(port, "POST", "/api/v1/send", raw), "delivered")
        text = await asyncio.wait_for(bob.recv(), WAIT)
        assert '"msg":[2 ]' in text, text
    run(body())


def test_push_to_absent_user_offline(api_shared):
    port = api_port(api_shared)
    r = push(port, {"receiver": uniq("nobody"), "msg": {"x": 1}})
    check_pushed(r, "offline")


def test_push_group_reaches_members_on_both_workers(make_daemon):
    """Members on both workers get a group push from `system` once; a
    non-member gets nothing (its next frame is a later 1:1 push)."""
    d = start_api_daemon(make_daemon)
    port = api_port(d)

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, ["alice", "bob"])
        carol, _ = await ws_connect(d, "carol")
        await join(alice, "team", "j1")
        await join(bob, "team", "j2")
        r = await aapi(port, "POST", "/api/v1/send", {"group": "team", "msg": {"n": 1}})
        mid = check_pushed(r, "sent")
        for ws in (alice, bob):
            check_frame(await recv_json(ws), "group", "system", {"n": 1}, mid, group="team")
        r = await aapi(port, "POST", "/api/v1/send",
                       {"group": "team", "msg": "again", "sender": "ops"})
        mid2 = check_pushed(r, "sent")
        for ws in (alice, bob):
            check_frame(await recv_json(ws), "group", "ops", "again", mid2, group="team")
        check_pushed(await aapi(port, "POST", "/api/v1/send",
                                {"receiver": "carol", "msg": "marker"}), "delivered")
        f = await recv_json(carol)
        assert f.get("msg") == "marker", f"non-member got {f}"
    run(body())


def test_push_broadcast_reaches_every_session(make_daemon):
    d = start_api_daemon(make_daemon)
    port = api_port(d)

    async def body():
        placed = await connect_on_distinct_workers(d, ["u1", "u2"])
        u3, _ = await ws_connect(d, "u3")
        sessions = [ws for ws, _, _ in placed] + [u3]
        r = await aapi(port, "POST", "/api/v1/send", {"broadcast": True, "msg": ["all"]})
        mid = check_pushed(r, "sent")
        for ws in sessions:
            check_frame(await recv_json(ws), "broadcast", "system", ["all"], mid)
    run(body())


# --------------------------------------------------------------------------
# queries

def test_online_counts(make_daemon):
    """users and sessions for the whole cluster: alice twice (--sessions
    multi, on both workers) and bob once = 2 users, 3 sessions; back to 1/1
    when alice leaves."""
    d = start_api_daemon(make_daemon, sessions="multi")
    port = api_port(d)

    async def body():
        await wait_online(port, 0, 0)
        (a1, _, _), (a2, _, _) = await connect_on_distinct_workers(d, ["alice", "alice"])
        bob, _ = await ws_connect(d, "bob")
        await wait_online(port, 2, 3)
        await asyncio.wait_for(a1.close(), WAIT)
        await asyncio.wait_for(a2.close(), WAIT)
        await wait_online(port, 1, 1)
    run(body())


def test_presence(make_daemon):
    d = start_api_daemon(make_daemon)
    port = api_port(d)

    async def body():
        await connect_on_distinct_workers(d, ["alice", "a.b@c.d"])
        r = await aapi(port, "GET", "/api/v1/presence?users=alice,bob,a.b@c.d")
        assert r.status == 200, r
        assert r.json() == {"online": {"alice": True, "bob": False, "a.b@c.d": True}}
        # percent-encoded '@' and ',' as a client library may send them
        r = await aapi(port, "GET", "/api/v1/presence?users=a.b%40c.d%2Cbob")
        assert r.json() == {"online": {"a.b@c.d": True, "bob": False}}, r
        names = [f"p{i}" for i in range(99)] + ["alice"]
        r = await aapi(port, "GET", "/api/v1/presence?users=" + ",".join(names))
        got = r.json()["online"]
        assert list(got) == names and got["alice"] is True and not any(
            got[n] for n in names[:-1]), got
    run(body())


@pytest.mark.parametrize("query", [
    "", "?users=", "?users=a,,b", "?users=,a", "?users=a,", "?users=a%20b", "?users=" + "x" * 65,
    "?users=" + ",".join(f"u{i}" for i in range(101)), "?user=a", "?users=a/b",
], ids=["no-query", "empty", "empty-item", "leading-comma", "trailing-comma", "space",
        "name-65", "101-users", "wrong-param", "slash"])
def test_presence_bad_list(api_shared, query):
    r = api_call(api_port(api_shared), "GET", "/api/v1/presence" + query)
    check_error(r, 400, "bad_request")


@pytest.mark.parametrize("query,why", [
    ("?users=alice%00,bob", "NUL"), ("?users=alice%00", "NUL"), ("?users=%00alice", "NUL"),
    ("?users=a%zz", "percent escape"), ("?users=a%4", "percent escape"),
    ("?users=a%", "percent escape"), ("?users=a%%41", "percent escape"),
    ("?users=a%g1", "percent escape"), ("?users=a%2", "percent escape"),
    ("?users=a%2Fb", "valid userIds"), ("?users=a%2C", "valid userIds"),
    ("?users=%25", "valid userIds"), ("?users=a+b", "valid userIds"),
], ids=["nul-then-comma", "nul-last", "nul-first", "bad-hex", "short-1", "short-0", "percent-escape",
        "bad-hi-nibble", "short-at-end", "encoded-slash", "encoded-trailing-comma",
        "encoded-percent", "plus"])
def test_presence_bad_encoding(api_shared, query, why):
    """Percent-decoding the users list: a decoded NUL (which once cut the
    list short: alice%00,bob answered for alice only), a '%' without two hex
    digits, or what decodes to an invalid name is 400 with a reason naming
    the problem."""
    r = api_call(api_port(api_shared), "GET", "/api/v1/presence" + query)
    obj = check_error(r, 400, "bad_request")
    assert why in obj["reason"], obj


def test_healthz(api_shared):
    r = api_call(api_port(api_shared), "GET", "/healthz")
    assert r.status == 200 and r.body == b"ok", r
    assert r.headers.get("content-type", "").startswith("text/plain"), r


# --------------------------------------------------------------------------
# errors

BAD_SEND = [
    ("not-json", b"{nope", 400, "bad_json"),
    ("empty-body", b"", 400, "bad_json"),
    ("truncated", b'{"receiver":"bob","msg":', 400, "bad_json"),
    ("array", b"[1]", 400, "bad_request"),
    ("string", b'"x"', 400, "bad_request"),
    ("no-msg", {"receiver": "bob"}, 400, "bad_request"),
    ("no-target", {"msg": 1}, 400, "bad_request"),
    ("receiver-invalid", {"receiver": "a b", "msg": 1}, 400, "bad_request"),
    ("receiver-empty", {"receiver": "", "msg": 1}, 400, "bad_request"),
    ("receiver-65", {"receiver": "r" * 65, "msg": 1}, 400, "bad_request"),
    ("receiver-number", {"receiver": 7, "msg": 1}, 400, "bad_request"),
    ("receiver-null", {"receiver": None, "msg": 1}, 400, "bad_request"),
    ("group-invalid", {"group": "g/h", "msg": 1}, 400, "bad_request"),
    ("two-targets", {"receiver": "bob", "group": "g", "msg": 1}, 400, "bad_request"),
    ("receiver-and-broadcast", {"receiver": "bob", "broadcast": True, "msg": 1}, 400,
     "bad_request"),
    ("broadcast-false-only", {"broadcast": False, "msg": 1}, 400, "bad_request"),
    ("broadcast-string", {"broadcast": "yes", "msg": 1}, 400, "bad_request"),
    ("sender-invalid", {"receiver": "bob", "msg": 1, "sender": "no way"}, 400, "bad_request"),
    ("sender-number", {"receiver": "bob", "msg": 1, "sender": 5}, 400, "bad_request"),
]


@pytest.mark.parametrize("body,status,code", [c[1:] for c in BAD_SEND],
                         ids=[c[0] for c in BAD_SEND])
def test_send_bad_body(api_shared, body, status, code):
    check_error(push(api_port(api_shared), body), status, code)


def test_not_found_and_method_not_allowed(api_shared):
    port = api_port(api_shared)
    for path in ("/", "/api/v1", "/api/v1/send/", "/api/v2/send", "/healthz/x", "/ws/bob",
                 "/metricsx"):
        check_error(api_call(port, "GET", path), 404, "not_found")
    for method, path, allow in (("GET", "/api/v1/send", "POST"), ("PUT", "/api/v1/send", "POST"),
                                ("POST", "/healthz", "GET"), ("DELETE", "/api/v1/online", "GET"),
                                ("POST", "/api/v1/presence", "GET"), ("POST", "/metrics", "GET")):
        r = api_call(port, method, path, body=b"{}" if method != "GET" else None)
        check_error(r, 405, "method_not_allowed")
        assert r.headers.get("allow") == allow, r


def test_too_large(api_shared):
    """A body over --max-message gets 413 and the connection is closed; a
    body of exactly the limit is read (and judged on its content)."""
    port = api_port(api_shared)
    base = json.dumps({"receiver": uniq("nobody"), "msg": "x" * 3000})
    exact = base + " " * (SHARED_MAX_MESSAGE - len(base))     # JSON allows trailing blanks
    assert len(exact) == SHARED_MAX_MESSAGE
    check_pushed(push(port, exact), "offline")
    over = exact + " "
    # declared length over the limit: refused before the body is read
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(f"POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: {len(over)}\r\n"
                  f"\r\n{over}".encode())
        (resp,), _ = recv_responses(s, 1)
        assert resp[0] == 413 and json.loads(resp[2])["error"] == "too_large", resp
        assert resp[1].get("connection") == "close", resp
        assert closed_by_server(s)
    # chunked: the sum of the chunks counts
    half = len(over) // 2
    chunks = f"{half:x}\r\n{over[:half]}\r\n{len(over) - half:x}\r\n{over[half:]}\r\n0\r\n\r\n"
    data = ("POST /api/v1/send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks).encode()
    status, hdrs, body = parse_http(raw_http(port, data))
    assert status == 413 and json.loads(body)["error"] == "too_large", (status, body)


def test_malformed_http_gets_400_and_close(api_shared):
    port = api_port(api_shared)
    for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40),
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
                 b"POST /api/v1/send HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"):
        status, hdrs, body = parse_http(raw_http(port, data))
        assert status == 400 and json.loads(body)["error"] == "bad_request", (data, status, body)
        assert hdrs.get("content-type") == "application/json"


def test_head_over_8k_gets_431(api_shared):
    port = api_port(api_shared)
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8200 + b"\r\n\r\n"
    status, _, body = parse_http(raw_http(port, data))
    assert status == 431 and json.loads(body)["error"] == "too_large", (status, body)
    # just under the limit is fine
    pad = 8192 - len(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n")
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * pad + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(data)
        (resp,), _ = recv_responses(s, 1)
        assert resp[0] == 200 and resp[2] == b"ok", resp


def test_api_key(make_daemon, tmp_path):
    """With --api-key-file every request needs Authorization: Bearer <key>
    (the file's trailing newline is not part of it); the check comes before
    routing, so an unknown path with a wrong key is 401 too."""
    key = "s3cr3t-" + os.urandom(8).hex()
    kf = tmp_path / "api.key"
    kf.write_text(key + "\n")
    d = start_api_daemon(make_daemon, api_key_file=str(kf))
    port = api_port(d)
    good = {"Authorization": f"Bearer {key}"}
    wrong = [{}, {"Authorization": f"Bearer {key}x"}, {"Authorization": f"Bearer {key[:-1]}"},
             {"Authorization": f"Bearer {key[:-1]}Z"}, {"Authorization": f"Basic {key}"},
             {"Authorization": key}, {"Authorization": f"Bearer {key} extra"},
             {"Authorization": "Bearer"}, {"X-Api-Key": key}]
    for h in wrong:
        for method, path in (("GET", "/healthz"), ("GET", "/no/such/path"),
                             ("POST", "/api/v1/send")):
            r = api_call(port, method, path, body=b"{}" if method == "POST" else None, headers=h)
            check_error(r, 401, "unauthorized")
            assert r.headers.get("www-authenticate") == "Bearer", r
    r = api_call(port, "GET", "/healthz", headers=good)
    assert r.status == 200 and r.body == b"ok", r
    r = api_call(port, "GET", "/healthz", headers={"Authorization": f"bearer   {key}"})
    assert r.status == 200, r
    check_error(api_call(port, "GET", "/no/such/path", headers=good), 404, "not_found")
    check_pushed(push(port, {"receiver": "nobody", "msg": 1}, headers=good), "offline")
    # two Authorization headers, even with the right key in one: refused
    data = (f"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Authorization: Bearer nope\r\nConnection: close\r\n\r\n").encode()
    status, hdrs, _ = parse_http(raw_http(port, data))
    assert status == 401 and hdrs.get("www-authenticate") == "Bearer"
    # a rewritten key file takes over within about a second (each worker
    # checks it once a second; SIGHUP is not needed): poll both workers
    new = "rotated-" + os.urandom(8).hex()
    tmp = tmp_path / "api.key.new"
    tmp.write_text(new + "\n")
    os.replace(tmp, kf)
    deadline = time.monotonic() + WAIT
    ok = 0
    while ok < 8:           # 8 answers in a row, on fresh connections (either worker)
        assert time.monotonic() < deadline, "the new key was not taken up"
        r = api_call(port, "GET", "/healthz", headers={"Authorization": f"Bearer {new}"})
        ok = ok + 1 if r.status == 200 else 0
        if r.status != 200:
            time.sleep(0.1)
    for _ in range(4):
        check_error(api_call(port, "GET", "/healthz", headers=good), 401, "unauthorized")


def test_api_key_checked_before_100_continue(make_daemon, tmp_path):
    """With an API key configured, a request that waits for 100 Continue
    without the right key gets 401 at once, never 100 Continue, and the
    connection is closed without its body being read; with the key, 100
    Continue comes, then the answer."""
    key = "k-" + os.urandom(8).hex()
    kf = tmp_path / "api.key"
    kf.write_text(key + "\n")
    d = start_api_daemon(make_daemon, api_key_file=str(kf))
    port = api_port(d)
    body = json.dumps({"group": "g", "msg": "x" * 2000}).encode()
    head = (b"POST /api/v1/send HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n" % len(body))
    for auth in (b"", b"Authorization: Bearer nope\r\n", b"Authorization: Basic " +
                 key.encode() + b"\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(head + auth + b"\r\n")      # the body is never sent
            (r,), rest = recv_responses(s, 1)
            assert r[0] == 401, (auth, r)
            assert r[1].get("www-authenticate") == "Bearer", r
            assert r[1].get("connection") == "close", r
            assert json.loads(r[2])["error"] == "unauthorized", r
            assert rest == b"", f"more than the 401 (a 100 Continue behind it?): {rest!r}"
            assert closed_by_server(s)
    # the same without Expect: the body is not waited for either
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body[:10])
        (r,), _ = recv_responses(s, 1)
        assert r[0] == 401 and r[1].get("connection") == "close", r
        assert closed_by_server(s)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(head + b"Authorization: Bearer " + key.encode() + b"\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            assert chunk, "closed before 100 Continue"
            got += chunk
        assert got == b"HTTP/1.1 100 Continue\r\n\r\n", got
        s.sendall(body)
        (r,), _ = recv_responses(s, 1)
        assert r[0] == 200 and json.loads(r[2])["status"] == "sent", r


# --------------------------------------------------------------------------
# connection handling

def test_keep_alive(api_shared):
    """Several requests of every kind on one connection: the same socket
    answers them all."""
    port = api_port(api_shared)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        c.connect()
        sock = c.sock
        for i in range(5):
            r = api_call(port, "GET", "/healthz", conn=c)
            assert r.status == 200 and r.body == b"ok", r
            check_pushed(api_call(port, "POST", "/api/v1/send",
                                  {"receiver": uniq("nobody"), "msg": i}, conn=c), "offline")
            check_pushed(api_call(port, "POST", "/api/v1/send", {"group": "g", "msg": i},
                                  conn=c), "sent")
            assert api_call(port, "GET", "/api/v1/online", conn=c).status == 200
            check_error(api_call(port, "GET", "/nope", conn=c), 404, "not_found")
            check_error(api_call(port, "POST", "/api/v1/send", b"{", conn=c), 400, "bad_json")
            assert c.sock is sock, "the connection was not kept alive"
    finally:
        c.close()


def test_pipelined_requests_answered_in_order(api_shared):
    """Requests in one write are answered in order, the slow ones (a push
    waiting for its outcome, an online query) before the fast ones behind
    them; then the connection is still usable."""
    port = api_port(api_shared)
    body = json.dumps({"receiver": uniq("nobody"), "msg": "p"}).encode()
    reqs = [
        b"POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/online HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/presence?users=zz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"".join(reqs))
        resps, rest = recv_responses(s, len(reqs))
        assert rest == b""
        statuses = [r[0] for r in resps]
        assert statuses == [200, 200, 200, 404, 200, 200], resps
        assert json.loads(resps[0][2])["status"] == "offline", resps[0]
        assert resps[1][2] == b"ok" and resps[5][2] == b"ok"
        assert set(json.loads(resps[2][2])) == {"users", "sessions"}
        assert json.loads(resps[3][2])["error"] == "not_found"
        assert json.loads(resps[4][2]) == {"online": {"zz": False}}
        # the same connection, byte by byte
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in req:
            s.send(bytes([b]))
        (r,), _ = recv_responses(s, 1)
        assert r[0] == 200 and r[2] == b"ok"


def test_connection_close_and_http10(api_shared):
    """Connection: close is honoured; HTTP/1.0 closes unless it asks for
    keep-alive (and then is told so)."""
    port = api_port(api_shared)
    for req in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /healthz HTTP/1.0\r\n\r\n"):
        status, hdrs, body = parse_http(raw_http(port, req + b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert status == 200 and body == b"ok", (req, body)   # one response only
        assert hdrs.get("connection") == "close"
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        for _ in range(2):
            s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            (r,), _ = recv_responses(s, 1)
            assert r[0] == 200 and r[1].get("connection", "").lower() == "keep-alive", r


def test_expect_100_continue(api_shared):
    """A client that waits for 100 Continue before its body (curl does for
    large bodies) gets it, then the answer."""
    port = api_port(api_shared)
    body = json.dumps({"group": "g", "msg": "x" * 2000}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"POST /api/v1/send HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            assert chunk, "closed before 100 Continue"
            got += chunk
        assert got == b"HTTP/1.1 100 Continue\r\n\r\n", got
        s.sendall(body)
        (r,), _ = recv_responses(s, 1)
        assert r[0] == 200 and json.loads(r[2])["status"] == "sent", r


def test_client_vanishing_while_push_waits(api_shared):
    """A client that closes while its push waits for the outcome: the late
    completion is ignored and the worker goes on serving."""
    port = api_port(api_shared)
    body = json.dumps({"receiver": uniq("nobody"), "msg": 1}).encode()
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"POST /api/v1/send HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
    for _ in range(4):
        assert api_call(port, "GET", "/healthz").status == 200
