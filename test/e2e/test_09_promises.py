"""09 — promises found broken from outside (issue 14), each now kept:
a respawned worker's welcome means the session can send as well as receive;
every join/leave frame with an id gets exactly one answer, in order; a
rate-limited frame's error echoes its id; a ping flood from a client that
never reads is bounded (pongs count against --max-outbound, pings against
the rate limit); a slow consumer closed while join timeouts are answered
does not crash the worker."""
import asyncio
import json
import os
import signal
import socket
import time

from conftest import (ExtBroker, LOGDIR, WAIT, check_error, connect_on_distinct_workers, masked,
                      place, raw_ws, read_close_code, rss_kb,
                      recv_json, run, send_json, uniq, worker_of,
                      ws_connect)


def test_respawned_worker_welcome_means_it_can_send(make_daemon):
    """kill -9 the worker holding six users; they reconnect at once (the
    slot's listener keeps its backlog, so the new worker takes them as soon
    as it starts, before anything proved its broker link), and each one
    that lands on the new worker sends a chat with an id to bob on the
    surviving worker as its first frame after welcome: every one is
    delivered, none is answered unavailable."""
    d = make_daemon()

    async def body():
        (bob, wb, survivor), (_, _, victim) = await connect_on_distinct_workers(
            d, [uniq("bob"), uniq("x")])
        users = [uniq(f"u{i}") for i in range(6)]
        for u in users:
            await place(d, u, victim)
        start = d.mark()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        pending, new = list(users), None
        while pending:
            assert time.monotonic() < deadline, f"never landed on a new worker: {pending}"
            try:
                ws, _ = await ws_connect(d, pending[0])
            except (OSError, AssertionError, asyncio.TimeoutError):
                continue                    # reset by the dying worker: reconnect
            pid = worker_of(d, ws)
            if pid == survivor:
                await ws.close()
                continue
            new = pid
            u = pending.pop(0)
            await ws.send(json.dumps({"receiver": wb["user"], "msg": u, "id": "first"}))
            ack = await recv_json(ws)
            assert ack.get("type") == "ack" and ack.get("status") == "delivered", \
                f"{u}'s first chat after welcome on a respawned worker: {ack}"
            got = await recv_json(bob)
            assert got.get("type") == "chat" and got.get("msg") == u, got
            await ws.close()
        assert new != victim
        d.wait_new_worker([victim], start)

    run(body())


def test_every_join_and_leave_gets_one_answer_in_order(make_daemon):
    """join, join, leave, join sent back to back on a fresh group (its route
    not live yet): four answers, in order: joined, joined, left, joined;
    then the session is a member (its group message comes back)."""
    d = make_daemon(workers=1)

    async def body():
        me = uniq("alice")
        ws, _ = await ws_connect(d, me)
        g = uniq("g")
        for i, t in enumerate(["join", "join", "leave", "join"]):
            await send_json(ws, {"type": t, "group": g, "id": f"f{i}"})
        answers = [await recv_json(ws) for _ in range(4)]
        assert answers == [
            {"type": "ack", "id": "f0", "status": "joined"},
            {"type": "ack", "id": "f1", "status": "joined"},
            {"type": "ack", "id": "f2", "status": "left"},
            {"type": "ack", "id": "f3", "status": "joined"},
        ], answers
        await send_json(ws, {"type": "group", "group": g, "msg": 1, "id": "m"})
        kinds = sorted(f["type"] for f in [await recv_json(ws), await recv_json(ws)])
        assert kinds == ["ack", "group"], kinds

    run(body())


def test_join_then_leave_leaves(make_daemon):
    """join then leave back to back: joined, then left, and the session is
    no member afterwards (not_member)."""
    d = make_daemon(workers=1)

    async def body():
        ws, _ = await ws_connect(d, uniq("alice"))
        g = uniq("g")
        await send_json(ws, {"type": "join", "group": g, "id": "j"})
        await send_json(ws, {"type": "leave", "group": g, "id": "l"})
        assert await recv_json(ws) == {"type": "ack", "id": "j", "status": "joined"}
        assert await recv_json(ws) == {"type": "ack", "id": "l", "status": "left"}
        await send_json(ws, {"type": "group", "group": g, "msg": 1, "id": "m"})
        check_error(await recv_json(ws), "not_member", "m")

    run(body())


def test_rate_limited_error_echoes_the_id(make_daemon):
    """--rate-limit 1: a bucket of 2, so the third chat at once is refused
    with rate_limited carrying that frame's id."""
    d = make_daemon(workers=1, **{"rate-limit": "1"})

    async def body():
        me = uniq("alice")
        ws, _ = await ws_connect(d, me)
        for i in range(3):
            await ws.send(json.dumps({"receiver": me, "msg": i, "id": f"r{i}"}))
        frames = [await recv_json(ws) for _ in range(5)]
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1, frames
        check_error(errors[0], "rate_limited", "r2")

    run(body())


def _flood_pings(s, total):
    """Send `total` bytes of 125-byte pings without reading; returns bytes
    sent before the server stopped taking them (it closed or reset)."""
    frame = masked(0x9, b"p" * 125)
    burst = frame * 512
    sent = 0
    s.settimeout(WAIT)
    try:
        while sent < total:
            s.sendall(burst)
            sent += len(burst)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    return sent


def test_ping_flood_is_bounded_by_the_outbound_cap(make_daemon):
    """Rate limit off: 40 MB of pings from a client that never reads (small
    receive buffer). wslay's pongs pile up for it; they count against
    --max-outbound, so it is closed (4008) and the worker's memory does not
    follow the flood."""
    d = make_daemon(workers=1, **{"rate-limit": "0", "max-outbound": "65536"})
    pid = d.worker_pids()[0]
    s = raw_ws(d, uniq("pinger"), rcvbuf=4096)
    before = rss_kb(pid)
    _flood_pings(s, 40 << 20)
    grown = rss_kb(pid) - before
    assert read_close_code(s) == 4008
    assert grown < 16 << 10, f"worker grew {grown} KiB during a ping flood"

    async def still_serves():
        ws, _ = await ws_connect(d, uniq("other"))
        await ws.close()
    run(still_serves())


def test_ping_flood_counts_against_the_rate_limit(make_daemon):
    """Default rate limit (1000/s, bursts of 2000): a ping flood is over it
    at once, and 3,000 refusals close the connection with 1008."""
    d = make_daemon(workers=1)
    s = raw_ws(d, uniq("pinger"))
    _flood_pings(s, 8 << 20)
    assert read_close_code(s) == 1008


def test_slow_consumer_closed_while_joins_time_out(make_daemon):
    """The broker is down; a client that never reads sends 2,500 joins with
    ids. Five seconds later their unavailable errors overflow its small
    outbound cap: it is closed 4008 while the worker is answering the
    timeouts. The worker survives (same pid) and serves the next client once
    the broker is back."""
    b = ExtBroker(os.path.join(LOGDIR, uniq("ext") + ".broker.log")).start()
    try:
        d = make_daemon("--broker", b.arg, workers=1,
                        **{"max-outbound": "4096", "max-groups": "3000", "rate-limit": "0"})
        pid = d.worker_pids()[0]

        async def body():
            ws, _ = await ws_connect(d, uniq("slow"))
            fd = ws.transport.get_extra_info("socket")
            fd.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            b.kill()
            start = d.mark()
            d.wait_log(r"broker not answering", timeout=5)
            for i in range(2500):
                await ws.send(json.dumps({"type": "join", "group": f"g{i}", "id": f"j{i}"}))
            ws.transport.pause_reading()
            d.wait_log(r"closing 4008", timeout=10, start=start)
            b.start()
            d.wait_log(r"broker reachable", timeout=10, start=start)
            assert d.worker_pids() == [pid], "the worker died"
            other, _ = await ws_connect(d, uniq("next"))
            await other.close()

        run(body())
    finally:
        b.kill()
