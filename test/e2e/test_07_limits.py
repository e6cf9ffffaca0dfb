"""07 — per-connection limits: the outbound cap (close 4008 for a client that
stops reading) and the rate limit (`rate_limited`, then close 1008)."""
import asyncio
import json
import socket
import struct

import websockets

from conftest import WAIT, recv_json, run, uniq, upgrade_request, ws_connect


def _read_exact(s, n, buf):
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection ended after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_frame(s, buf):
    """One server frame (unmasked) from socket s; buf holds bytes already
    read. Returns (opcode, payload, rest of buf)."""
    buf = _read_exact(s, 2, buf)
    op, l7 = buf[0] & 0x0F, buf[1] & 0x7F
    assert not buf[1] & 0x80, "server frames must not be masked"
    hdr = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0)
    buf = _read_exact(s, hdr, buf)
    n = l7 if l7 < 126 else struct.unpack(">H" if l7 == 126 else ">Q", buf[2:hdr])[0]
    buf = _read_exact(s, hdr + n, buf)
    return op, buf[hdr:hdr + n], buf[hdr + n:]


def masked_close(code):
    payload = struct.pack(">H", code)
    mask = b"\x01\x02\x03\x04"
    return bytes([0x88, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def test_slow_consumer_is_closed_4008(make_daemon):
    """bob stops reading while alice floods him: once bob's queue passes
    --max-outbound the server closes him with 4008 behind the data already
    written, drops the queue, and alice is unaffected. When bob reads again
    he gets whole frames, then the 4008 close; after his close reply the
    server ends TCP."""
    d = make_daemon(max_outbound=65536, rate_limit=0)
    bob = uniq("bob")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # a small window
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", d.port))
    s.sendall(upgrade_request(d.port, f"/ws/{bob}"))
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, _, buf = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    op, payload, buf = read_frame(s, buf)
    assert op == 1 and json.loads(payload)["type"] == "welcome"
    # bob reads nothing more from here on

    mark = d.mark()
    chunk = "x" * 8000

    async def flood():
        ws, _ = await ws_connect(d, uniq("alice"))
        for i in range(4000):                   # 32 MB, far past every buffer
            await ws.send(json.dumps({"receiver": bob, "msg": {"i": i, "pad": chunk}}))
            if i % 200 == 199:
                await asyncio.sleep(0)          # let the client flush
                if any("closing 4008" in l for l in d.lines[mark:]):
                    break
        return ws

    # alice keeps working after bob was cut off
    async def alice_ok():
        ws, w = await ws_connect(d, uniq("alice2"))
        await ws.send(json.dumps({"receiver": w["user"], "msg": "still here", "id": "k"}))
        frames = [await recv_json(ws), await recv_json(ws)]
        assert {f["type"] for f in frames} == {"ack", "chat"}, frames

    async def flood_and_check():
        await flood()
        d.wait_log(r"outbound queue over 65536 bytes, closing 4008", timeout=10, start=mark)
        await alice_ok()

    run(flood_and_check())

    # bob reads again: only whole data frames, then the close with 4008
    seen = 0
    while True:
        op, payload, buf = read_frame(s, buf)
        if op == 8:
            code = struct.unpack(">H", payload[:2])[0]
            break
        assert op == 1, f"unexpected opcode {op}"
        frame = json.loads(payload)             # whole, parseable frames only
        assert frame["type"] == "chat"
        seen += 1
    assert code == 4008, code
    # the queue was freed: far fewer than the 4000 messages were still owed
    assert seen < 4000, seen
    s.sendall(masked_close(4008))
    s.settimeout(WAIT)
    rest = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
        assert len(rest) < 1 << 20, "server kept sending after its close"
    s.close()


def test_rate_limit_then_1008(make_daemon):
    """--rate-limit 5: a connection starts with a bucket of 10; a burst is
    answered with `error` for each message (bad_json here, to count them) up
    to the bucket, then `rate_limited` for each refused message, and 15
    refusals in a row close the connection with 1008."""
    d = make_daemon(rate_limit=5)

    async def body():
        ws, _ = await ws_connect(d, uniq("rl"))
        for _ in range(100):
            try:
                await ws.send("not json")
            except websockets.ConnectionClosed:
                break
        codes = []
        while True:
            try:
                f = await recv_json(ws)
            except websockets.ConnectionClosed:
                break
            codes.append(f["code"])
        assert ws.close_code == 1008, (ws.close_code, codes)
        first_refusal = codes.index("rate_limited")
        assert first_refusal >= 10, codes              # the bucket of 2N went first
        assert all(c == "bad_json" for c in codes[:first_refusal]), codes
        # the close came after exactly 3N - 1 answered refusals in a row
        tail = codes[first_refusal:]
        run_len = 0
        for c in reversed(tail):
            if c != "rate_limited":
                break
            run_len += 1
        assert run_len == 14, codes

    run(body())
