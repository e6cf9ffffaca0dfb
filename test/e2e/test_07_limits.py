"""07 — per-connection limits: the outbound cap (close 4008 for a client that
stops reading) and the rate limit (`rate_limited`, then close 1008)."""
import asyncio
import fcntl
import json
import os
import socket
import struct
import subprocess
import termios
import time
import types

import websockets

from conftest import (WAIT, place, recv_json, run, uniq, upgrade_request, worker_of,
                      ws_connect)
from test_10_api import api_port, start_api_daemon
from test_11_metrics import scrape, val


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


MAX_OUTBOUND = 2 << 20      # 2 MiB: far above the allocator's noise, far below the flood
FLOOD = 4000                # messages of ~8 KB to bob: 32 MB, far past every buffer
# What a worker's RSS may grow by, besides bob's queue, while it routes the
# flood: ZeroMQ's receive buffers and messages in flight, the frame being
# encoded, allocator slack. Socket buffers are kernel memory, not in RSS:
# they bound what bob can still read after the close instead (see below).
RSS_ALLOWANCE = 4 << 20
# Under ASan the 8 KB messages in flight also carry redzones and shadow
# memory (the likely cause, not traced further): 8.4-9.5 MB of growth in 2
# of 16 runs of an unchanged build (68497d8) on a slower box. Twice the allowance there still
# leaves the bound at 12 MB, far below the 32 MB an unbounded queue would hold.
if os.environ.get("ASAN_OPTIONS"):
    RSS_ALLOWANCE *= 2
# What bob's conn may still hold once closed 4008: the rest of an 8 KB frame
# and the close frame, in a buffer rounded up by the allocator's growth.
HELD_AFTER_CLOSE = 64 << 10


def _vm_kb(pid, field):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _kernel_queued(daemon, s):
    """Bytes the kernel holds for the client socket s: the server socket's
    Send-Q (ss) plus what s has received and not read (FIONREAD). Bytes in
    flight may be counted twice, never missed: an upper bound."""
    cport = s.getsockname()[1]
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          f"( sport = :{daemon.port} and dport = :{cport} )"],
                         capture_output=True, text=True, timeout=5, check=True).stdout.split()
    assert len(out) >= 4, f"server socket for client port {cport} not found: {out}"
    inq = struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0" * 4))[0]
    return int(out[1]) + inq


class _Counting:
    """A socket whose recv() counts the bytes it returns."""

    def __init__(self, s):
        self.s, self.n = s, 0

    def recv(self, k):
        b = self.s.recv(k)
        self.n += len(b)
        return b


def _connect_raw(d, user, pid=None, tries=50):
    """bob as a raw socket with a small receive window, upgraded and past
    its welcome, on worker pid (any when None). Returns (sock, buf, pid)."""
    for _ in range(tries):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # a small window
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", d.port))
        s.sendall(upgrade_request(d.port, f"/ws/{user}"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, _, buf = buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        op, payload, buf = read_frame(s, buf)
        assert op == 1 and json.loads(payload)["type"] == "welcome"
        got = worker_of(d, types.SimpleNamespace(local_address=s.getsockname()))
        if pid is None or got == pid:
            return s, buf, got
        s.close()
    raise AssertionError(f"{user} never landed on worker {pid} in {tries} tries")


def _slow_consumer(d, pid, other, mem):
    """One round: a bob on worker pid stops reading while an alice on worker
    other floods him; the checks of test_slow_consumer_is_closed_4008.
    Returns the worker's peak RSS (KiB) since the test reset it."""
    bob = uniq("bob")
    s, buf, _ = _connect_raw(d, bob, pid)
    # bob reads nothing more until the close
    mark = d.mark()
    chunk = "x" * 8000

    async def flood():
        ws, _ = await place(d, uniq("alice"), other)
        for i in range(FLOOD):
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
        d.wait_log(rf"outbound queue over {MAX_OUTBOUND} bytes, closing 4008", timeout=10,
                   start=mark)
        await alice_ok()

    run(flood_and_check())
    peak = _vm_kb(pid, "VmHWM")
    # the queue went at the close, while bob still reads nothing: what the
    # host's queues hold is at most the rest of one frame and the close
    held = val(scrape(api_port(d)), "zwsd_outbound_bytes")
    assert held <= HELD_AFTER_CLOSE, \
        f"outbound queues hold {held} bytes after bob's 4008, over {HELD_AFTER_CLOSE}"
    kernel = _kernel_queued(d, s)

    # bob reads again: only whole data frames, then the close with 4008
    cs = _Counting(s)
    frame_max = 0
    while True:
        op, payload, buf = read_frame(cs, buf)
        if op == 8:
            code = struct.unpack(">H", payload[:2])[0]
            break
        assert op == 1, f"unexpected opcode {op}"
        frame = json.loads(payload)             # whole, parseable frames only
        assert frame["type"] == "chat"
        frame_max = max(frame_max, len(payload) + 14)
    assert code == 4008, code
    # the queue was dropped: bob got what the kernel held, the rest of the
    # frame the socket had taken in part, and the close frame; not the queue
    assert cs.n <= kernel + frame_max + 2 + 125, \
        f"bob read {cs.n} bytes after the close; the kernel held {kernel}"
    s.sendall(masked_close(4008))
    rest = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
        assert len(rest) < 1 << 20, "server kept sending after its close"
    s.close()
    mem.append((peak, _vm_kb(pid, "VmRSS")))
    return peak


def test_slow_consumer_is_closed_4008(make_daemon, monkeypatch):
    """bob stops reading while alice (on the other worker) floods him: once
    bob's queue passes --max-outbound the server closes him with 4008 behind
    the data already written, drops the queue, and alice is unaffected. When
    bob reads again he gets whole frames, then the 4008 close; after his
    close reply the server ends TCP.

    What is bounded, measured where it lives, none of it by timing:
    - bob's worker's peak RSS (VmHWM, reset before the flood) grows by at most
      2 x --max-outbound (the queue's buffer doubles as it grows) plus
      RSS_ALLOWANCE: an unbounded queue would hold the whole 32 MB flood;
    - what bob reads after the close is only what the kernel held at the
      close (server Send-Q + bob's receive queue) plus the rest of one frame
      and the close frame: the user-space queue was dropped, not sent;
    - the queue is freed at the close: the host's zwsd_outbound_bytes gauge
      (bytes allocated to outbound queues) is at most HELD_AFTER_CLOSE right
      after the 4008, before bob reads, and 0 once he is gone, so a queue
      kept or leaked shows as what it holds. The allocator need not give the
      pages to the kernel (and under ASan its size classes keep them), so the
      RSS after the close is reported, not asserted."""
    # under `make test-asan` freed memory would sit in ASan's quarantine
    opts = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (opts + ":" if opts else "") + "quarantine_size_mb=0")
    d = start_api_daemon(make_daemon, max_outbound=MAX_OUTBOUND, rate_limit=0)
    pid = d.worker_pids()[0]
    other = d.worker_pids()[1]
    # settle the worker first (its first session and routes allocate once)
    s, _, _ = _connect_raw(d, uniq("warm"), pid)
    s.close()
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")                            # VmHWM := VmRSS
    before = _vm_kb(pid, "VmRSS")
    mem = []
    peak1 = _slow_consumer(d, pid, other, mem)
    growth = (peak1 - before) << 10
    what = f"worker {pid}: RSS {before} KiB before, (peak, after) per round {mem} KiB"
    assert growth <= 2 * MAX_OUTBOUND + RSS_ALLOWANCE, \
        f"{what}: the peak grew by {growth >> 10} KiB, over 2 x {MAX_OUTBOUND >> 10} KiB + " \
        f"{RSS_ALLOWANCE >> 10} KiB"
    _queues_freed(d, mem)
    _slow_consumer(d, pid, other, mem)
    _queues_freed(d, mem)


def _queues_freed(d, mem):
    """Waits until no outbound queue holds memory on the host; fails with
    what is still held when that does not come within WAIT."""
    port, held = api_port(d), None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        held = val(scrape(port), "zwsd_outbound_bytes")
        if held == 0:
            return
        time.sleep(0.05)        # a gauge has no event to await: poll it
    raise AssertionError(f"outbound queues still hold {held} bytes after every slow bob closed; "
                         f"worker RSS (peak, after) per round {mem} KiB")


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
