"""41 — connection limits (zwsd(8) "Connection limits"): each one triggers its
documented reaction and the other clients keep working: the handshake
timeout (slowloris: closed unanswered), the request-head size (431),
connections per client address (429, other addresses unaffected; the
IPv6 /64 keys are test_peers's), connections per worker (503 with Retry-After), and the
over-limit connections closed at once when too many wait for their refusal;
each counted in /metrics. One worker per daemon, since the limits are per
worker. The per-connection limits that existed before (--rate-limit,
--max-outbound) are test_07's, --max-groups test_20's."""
import asyncio
import socket

import pytest
import websockets

from conftest import (WAIT, assert_usable, parse_http, raw_http, run, uniq, upgrade_request,
                      ws_connect, ws_url)
from test_10_api import api_flags, api_port
from test_11_metrics import delta, scrape


def head(port, user, pad=0):
    """An upgrade request; pad: an X-Pad header of that many bytes."""
    return upgrade_request(port, path=f"/ws/{user}", add=[("X-Pad", "p" * pad)] if pad else ())


def answer(port, data, source=None, timeout=WAIT):
    """Send data on a fresh connection (from source, an address of ours) and
    read until the server closes: (status or None, headers, body, raw)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    if not buf:
        return None, {}, b"", buf
    status, headers, body = parse_http(buf)
    return status, headers, body, buf


def test_handshake_timeout(make_daemon):
    d = make_daemon("--handshake-timeout", "1", workers=1, **api_flags())
    before = scrape(api_port(d))

    async def body():
        loop = asyncio.get_running_loop()
        # half a head, then silence: closed, without an answer
        half = head(d.port, "slow")[:40]
        got = await loop.run_in_executor(None, lambda: raw_http(d.port, half, timeout=WAIT))
        assert got == b"", got
        # nothing at all: the same
        got = await loop.run_in_executor(None, lambda: raw_http(d.port, b"", timeout=WAIT))
        assert got == b"", got
        u = uniq("patient")
        ws, _ = await ws_connect(d, u)
        await assert_usable(ws, u, "t1")
    run(body())
    d.wait_log(r"no request head within the handshake timeout")
    after = scrape(api_port(d))
    assert delta(before, after, "zwsd_limit_refusals_total", limit="handshake_timeout") == 2


def test_max_head(make_daemon):
    d = make_daemon("--max-head", "1024", workers=1)
    req = head(d.port, "big", pad=1100)
    status, headers, body, _ = answer(d.port, req)
    assert status == 431, (status, body)
    assert "close" in headers.get("connection", "").lower()
    # just under the limit: upgraded
    small = head(d.port, "small", pad=1025 - len(head(d.port, "small", pad=1)))
    assert len(small) == 1024
    got = raw_http(d.port, small, until=b"\r\n\r\n", require_close=False)
    assert got.startswith(b"HTTP/1.1 101 "), got[:100]


def test_max_head_upper_bound(make_daemon):
    """65536 is the largest limit: a 9,000-byte head passes there."""
    d = make_daemon("--max-head", "65536", workers=1)
    got = raw_http(d.port, head(d.port, "roomy", pad=9000), until=b"\r\n\r\n",
                   require_close=False)
    assert got.startswith(b"HTTP/1.1 101 "), got[:100]


def test_max_conns_per_ip(make_daemon):
    d = make_daemon("--max-conns-per-ip", "2", workers=1, **api_flags())
    before = scrape(api_port(d))

    async def body():
        loop = asyncio.get_running_loop()
        a, b = uniq("ipa"), uniq("ipb")
        wa, _ = await ws_connect(d, a)
        wb, _ = await ws_connect(d, b)
        status, headers, text, _ = await loop.run_in_executor(
            None, answer, d.port, head(d.port, uniq("ipc")))
        assert status == 429, (status, text)
        assert b"too many connections" in text
        assert headers.get("content-type", "").startswith("text/plain")
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(ws_url(d, uniq("ipd")), open_timeout=WAIT)
        assert e.value.status_code == 429
        # another address is not affected
        c = uniq("ipother")
        wc, _ = await ws_connect(d, c, local_addr=("127.0.0.2", 0))
        await assert_usable(wc, c, "o1")
        # nor are the sessions within the limit
        await assert_usable(wa, a, "a1")
        await assert_usable(wb, b, "b1")
        # one leaves: there is room again (once the server has reaped it)
        await asyncio.wait_for(wb.close(), WAIT)
        e_user = uniq("ipe")
        for attempt in range(50):
            try:
                we, _ = await ws_connect(d, e_user)
                break
            except websockets.exceptions.InvalidStatusCode as err:
                assert err.status_code == 429
                await asyncio.sleep(0.05)       # the close is being reaped: poll, bounded
        else:
            raise AssertionError("no room after a connection closed")
        await assert_usable(we, e_user, "e1")
    run(body())
    after = scrape(api_port(d))
    assert delta(before, after, "zwsd_limit_refusals_total", limit="per_ip") >= 2
    assert delta(before, after, "zwsd_handshakes_total", result="refused", status="429") >= 2
    d.wait_log(r"connections refused with 429 over --max-conns-per-ip")     # the warning
    d.wait_log(r"connection \d+ from 127\.0\.0\.1: over --max-conns-per-ip")  # debug, each


def test_per_ip_limit_off(make_daemon):
    d = make_daemon("--max-conns-per-ip", "0", workers=1)

    async def body():
        wss = [await ws_connect(d, uniq("many")) for _ in range(5)]
        assert len(wss) == 5
    run(body())


def test_max_conns(make_daemon):
    d = make_daemon("--max-conns", "2", "--max-conns-per-ip", "0", workers=1, **api_flags())
    before = scrape(api_port(d))

    async def body():
        loop = asyncio.get_running_loop()
        a, b = uniq("fulla"), uniq("fullb")
        wa, _ = await ws_connect(d, a)
        wb, _ = await ws_connect(d, b)
        status, headers, text, _ = await loop.run_in_executor(
            None, answer, d.port, head(d.port, uniq("fullc")))
        assert status == 503, (status, text)
        assert headers.get("retry-after") == "5", headers
        assert b"connection limit" in text
        await assert_usable(wa, a, "a1")
        await assert_usable(wb, b, "b1")
    run(body())
    after = scrape(api_port(d))
    assert delta(before, after, "zwsd_limit_refusals_total", limit="max_conns") == 1
    assert delta(before, after, "zwsd_handshakes_total", result="refused", status="503") == 1
    d.wait_log(r"connections refused with 503 over --max-conns")


def test_over_limit_closed_at_once_when_too_many_wait(make_daemon):
    """--max-conns-per-ip 1: the first connection is admitted, the next 16
    wait for their 429 (sent once their head is in), the 18th is closed at
    once without an answer."""
    d = make_daemon("--max-conns-per-ip", "1", "--handshake-timeout", "30", workers=1,
                    **api_flags())
    before = scrape(api_port(d))

    async def body():
        u = uniq("slack")
        ws, _ = await ws_connect(d, u)
        waiting = [socket.create_connection(("127.0.0.1", d.port), timeout=WAIT)
                   for _ in range(16)]
        try:
            with socket.create_connection(("127.0.0.1", d.port), timeout=WAIT) as s:
                assert s.recv(100) == b"", "the 18th must be closed unanswered"
            for s in waiting:
                s.sendall(head(d.port, uniq("w")))
            for s in waiting:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(4096)
                    assert chunk, f"closed before the answer: {buf!r}"
                    buf += chunk
                assert buf.startswith(b"HTTP/1.1 429 "), buf[:80]
        finally:
            for s in waiting:
                s.close()
        await assert_usable(ws, u, "still")
    run(body())
    after = scrape(api_port(d))
    assert delta(before, after, "zwsd_limit_refusals_total", limit="dropped") == 1
    assert delta(before, after, "zwsd_limit_refusals_total", limit="per_ip") == 16
