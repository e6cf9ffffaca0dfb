"""43 — history and recovery (zwsd-protocol(7) "History and recovery"): a client
that reconnects with ?since=EPOCH:SEQ gets what it missed, oldest first, the
frames as first delivered (same mid, seq, createTime), then `welcome` with
recovered/missed, then live traffic with no gap and no duplicate; offline chats
are kept (ack `offline` + `stored`); bounds evict the oldest; a malformed since
is 400. History lives with the broker, so it survives the worker."""
import asyncio
import json
import os
import signal
import urllib.parse

import pytest
import websockets

from conftest import (WAIT, chat, chat_offline, connect_on_distinct_workers, raw_http, parse_http, recv_json,
                      run, send_json, uniq, ws_connect, ws_url)
from test_10_api import aapi, api_flags, api_port


def since_of(welcome):
    assert isinstance(welcome.get("seq"), int) and isinstance(welcome.get("epoch"), str), welcome
    return f"{welcome['epoch']}:{welcome['seq']}"


async def resume(d, user, since, **kw):
    """Connect with ?since=; returns (ws, replayed frames, welcome)."""
    url = ws_url(d, user) + "?since=" + urllib.parse.quote(since, safe="")
    ws = await asyncio.wait_for(websockets.connect(url, open_timeout=WAIT, ping_interval=None,
                                                   close_timeout=3, **kw), WAIT + 1)
    frames = []
    while True:
        f = await recv_json(ws)
        if f["type"] == "welcome":
            return ws, frames, f
        assert f["type"] == "chat", f"before welcome only replayed chats: {f}"
        frames.append(f)


async def send_offline(alice, bob_user, n, tag):
    """n chats to a user with no session: each acked offline and stored."""
    acks = []
    for i in range(n):
        await alice.send(chat(bob_user, {"tag": tag, "i": i}, id=f"{tag}{i}"))
        f = await recv_json(alice)
        assert f["type"] == "ack" and f["id"] == f"{tag}{i}", f
        assert f["status"] == "offline" and f.get("stored") is True, f
        acks.append(f)
    return acks


def check_replay(frames, acks, tag, first_seq, first_i=0):
    assert [f["msg"] for f in frames] == [{"tag": tag, "i": i}
                                          for i in range(first_i, first_i + len(acks))]
    assert [f["mid"] for f in frames] == [a["mid"] for a in acks], "same mid as acked"
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(first_seq, first_seq + len(frames))), seqs
    assert len({f["epoch"] for f in frames}) == 1


def test_resume_after_clean_close(make_daemon):
    d = make_daemon()

    async def body():
        alice, _ = await ws_connect(d, uniq("alice"))
        bob_user = uniq("bob")
        bob, w0 = await ws_connect(d, bob_user)
        since = since_of(w0)
        await bob.close()
        acks = await send_offline(alice, bob_user, 3, "c")
        bob, frames, w1 = await resume(d, bob_user, since)
        check_replay(frames, acks, "c", w0["seq"] + 1)
        assert w1["recovered"] is True and w1.get("missed") == 0, w1
        assert w1["seq"] == frames[-1]["seq"] and w1["epoch"] == frames[-1]["epoch"], w1
        # live traffic after the welcome: the next number, once
        await alice.send(chat(bob_user, "live", id="l"))
        f = await recv_json(bob)
        assert f["msg"] == "live" and f["seq"] == w1["seq"] + 1, f
        a = await recv_json(alice)
        assert a["status"] == "delivered" and a["mid"] == f["mid"], a

    run(body())


def test_first_login_since_zero_gets_stored_chats(make_daemon):
    """A client that never saw bob's epoch still gets what is kept: with a
    wrong epoch everything held comes, recovered:false; with the stream's
    epoch and 0, the same, recovered:true."""
    d = make_daemon()

    async def body():
        alice, _ = await ws_connect(d, uniq("alice"))
        bob_user = uniq("bob")
        acks = await send_offline(alice, bob_user, 2, "s")
        bob, frames, w1 = await resume(d, bob_user, "never-seen:0")
        check_replay(frames, acks, "s", 1)
        assert w1["recovered"] is False and w1["seq"] == 2, w1
        await bob.close()
        bob, frames, w2 = await resume(d, bob_user, f"{frames[0]['epoch']}:0")
        check_replay(frames, acks, "s", 1)
        assert w2["recovered"] is True and w2["missed"] == 0, w2

    run(body())


def test_resume_after_kill_of_the_sessions_worker(make_daemon):
    d = make_daemon()

    async def body():
        (alice, _, _), (bob, w0, bob_pid) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        bob_user = w0["user"]
        since = since_of(w0)
        os.kill(bob_pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(bob.wait_closed(), WAIT)
        except asyncio.TimeoutError:
            pass
        # While the dead worker's route lingers, chats are answered
        # unavailable (they went to it); they are in bob's stream all the
        # same. Every offline one is kept: the replay has them all, in order.
        acks, sent = [], []
        i = 0
        while len(acks) < 3:
            await alice.send(chat(bob_user, {"tag": "k", "i": i}, id=f"k{i}"))
            sent.append(i)
            f = await recv_json(alice)
            i += 1
            if f["type"] == "ack" and f["status"] == "offline":
                assert f.get("stored") is True, f
                acks.append(f)
            else:
                assert f["type"] == "error" and f["code"] == "unavailable", f
                await asyncio.sleep(0.05)   # pacing between attempts
        bob, frames, w1 = await resume(d, bob_user, since)
        got = [f for f in frames if isinstance(f["msg"], dict) and f["msg"].get("tag") == "k"]
        mids = [f["mid"] for f in got]
        assert [a["mid"] for a in acks] == [m for m in mids if m in {a["mid"] for a in acks}]
        assert [f["msg"]["i"] for f in got] == sorted(f["msg"]["i"] for f in got), "in order"
        assert set(f["msg"]["i"] for f in got) <= set(sent)
        seqs = [f["seq"] for f in frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        assert w1["recovered"] is True and w1["seq"] == seqs[-1], w1

    run(body())


def test_live_traffic_racing_the_replay_has_no_gap_and_no_duplicate(make_daemon):
    d = make_daemon()

    async def body():
        (alice, _, _), (bob, w0, _) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        bob_user = w0["user"]
        since = since_of(w0)
        await bob.close()
        stop = asyncio.Event()
        sent = []

        async def sender():
            i = 0
            while not stop.is_set() or i < 20:
                await alice.send(chat(bob_user, {"n": i}))
                sent.append(i)
                i += 1
                await asyncio.sleep(0.002)  # a steady trickle, not a flood

        task = asyncio.create_task(sender())
        await asyncio.sleep(0.05)           # some go to the store first
        bob, frames, w1 = await resume(d, bob_user, since)
        stop.set()
        await task
        live = []
        while len(frames) + len(live) < len(sent):
            f = await recv_json(bob)
            live.append(f)
        allf = frames + live
        assert [f["msg"]["n"] for f in allf] == sent, "every chat once, in order"
        seqs = [f["seq"] for f in allf]
        assert seqs == list(range(w0["seq"] + 1, w0["seq"] + 1 + len(sent))), seqs
        assert w1["seq"] == (frames[-1]["seq"] if frames else w0["seq"]), (w1, frames[-1:])

    run(body())


def test_unknown_epoch_and_out_of_window(make_daemon):
    d = make_daemon(history_size="3")

    async def body():
        alice, _ = await ws_connect(d, uniq("alice"))
        bob_user = uniq("bob")
        bob, w0 = await ws_connect(d, bob_user)
        await bob.close()
        acks = await send_offline(alice, bob_user, 5, "w")
        bob, frames, w1 = await resume(d, bob_user, since_of(w0))
        check_replay(frames, acks[2:], "w", w0["seq"] + 3, 2)   # the oldest two are gone
        assert w1["recovered"] is False and w1["missed"] == 2, w1
        await bob.close()
        bob, frames, w2 = await resume(d, bob_user, "no-such-epoch:1")
        assert len(frames) == 3 and w2["recovered"] is False and "missed" not in w2, (frames, w2)

    run(body())


@pytest.mark.parametrize("since", ["", "x", ":1", "e:", "e:1x", "e:-1", "e%zz:1",
                                   "e:99999999999999999999"])
def test_malformed_since_is_400_with_a_json_body(daemon, since):
    req = (f"GET /ws/bob?since={since} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    status, headers, body = parse_http(raw_http(daemon.port, req.encode()))
    assert status == 400, (status, body)
    assert headers.get("content-type") == "application/json", headers
    assert json.loads(body)["error"] == "bad_request"


def test_api_history_reads_a_stream(make_daemon):
    d = make_daemon(**api_flags())
    port = api_port(d)

    async def body():
        alice, _ = await ws_connect(d, uniq("alice"))
        bob_user = uniq("bob")
        acks = await send_offline(alice, bob_user, 2, "h")
        r = await aapi(port, "GET", f"/api/v1/history?user={bob_user}")
        assert r.status == 200, r
        # msg is forwarded as written (with the client's spaces): not compact
        assert r.headers.get("content-type") == "application/json", r
        j = json.loads(r.body)
        assert j["user"] == bob_user and j["seq"] == 2 and isinstance(j["epoch"], str), j
        assert "recovered" not in j, "nothing was asked to recover"
        assert [m["mid"] for m in j["messages"]] == [a["mid"] for a in acks], j
        assert all(m["type"] == "chat" and m["receiver"] == bob_user for m in j["messages"])
        r = await aapi(port, "GET",
                       f"/api/v1/history?user={bob_user}&since={j['epoch']}%3A1")
        j2 = json.loads(r.body)
        assert [m["seq"] for m in j2["messages"]] == [2] and j2["recovered"] is True, j2
        r = await aapi(port, "GET", "/api/v1/history?user=")
        assert r.status == 400, r
        r = await aapi(port, "GET", f"/api/v1/history?user={bob_user}&since=nope")
        assert r.status == 400, r

    run(body())


def test_group_resume_with_since_on_join(make_daemon):
    d = make_daemon()

    async def body():
        (alice, wa, _), (bob, wb, _) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        g = uniq("g")
        for ws in (alice, bob):
            await send_json(ws, {"type": "join", "group": g, "id": "j"})
            f = await recv_json(ws)
            assert f["type"] == "ack" and f["status"] == "joined", f
        await send_json(alice, {"type": "group", "group": g, "msg": 0, "id": "m0"})
        first = None
        while first is None:                # bob's copy tells the stream's place
            f = await recv_json(bob)
            if f["type"] == "group":
                first = f
        since = f"{first['epoch']}:{first['seq']}"
        await send_json(bob, {"type": "leave", "group": g, "id": "l"})
        assert (await recv_json(bob))["status"] == "left"
        for i in (1, 2, 3):
            await send_json(alice, {"type": "group", "group": g, "msg": i})
        got = set()
        while len(got) < 4:                 # alice's own copies: the messages went through
            f = await recv_json(alice)
            if f["type"] == "group":
                got.add(f["msg"])
        await send_json(bob, {"type": "join", "group": g, "since": since, "id": "r"})
        frames = []
        while True:
            f = await recv_json(bob)
            if f["type"] == "ack":
                break
            assert f["type"] == "group", f
            frames.append(f)
        assert f["id"] == "r" and f["status"] == "joined" and f["recovered"] is True, f
        assert [x["msg"] for x in frames] == [1, 2, 3], frames
        assert [x["seq"] for x in frames] == [first["seq"] + k for k in (1, 2, 3)], frames
        assert f["seq"] == frames[-1]["seq"] and f["epoch"] == first["epoch"], f
        await send_json(bob, {"type": "join", "group": g, "since": "bad", "id": "x"})
        e = await recv_json(bob)
        assert e["type"] == "error" and e["code"] == "bad_request" and e["id"] == "x", e

    run(body())


def test_resume_after_killing_every_worker(make_daemon):
    d = make_daemon()

    async def body():
        bob_user = uniq("bob")
        bob, w0 = await ws_connect(d, bob_user)
        since = since_of(w0)
        old = d.worker_pids()
        start = d.mark()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        for _ in range(len(old)):           # every slot respawned and ready
            old.append(d.wait_new_worker(old, start))
        alice, _ = await ws_connect(d, uniq("alice"))
        acks = []
        i = 0
        while len(acks) < 2:                # bob's old route may linger a moment
            await alice.send(chat(bob_user, {"tag": "a", "i": len(acks)}, id=f"a{i}"))
            f = await recv_json(alice)
            i += 1
            if f["type"] == "ack" and f["status"] == "offline":
                acks.append(f)
            else:
                assert f["type"] == "error" and f["code"] == "unavailable", f
                await asyncio.sleep(0.05)   # pacing between attempts
        bob, frames, w1 = await resume(d, bob_user, since)
        got = [f for f in frames if f["msg"] in ({"tag": "a", "i": 0}, {"tag": "a", "i": 1})]
        assert [f["mid"] for f in got][-2:] == [a["mid"] for a in acks], (frames, acks)
        assert w1["recovered"] is True, w1

    run(body())


def test_resume_on_another_daemon_sharing_the_broker(make_daemon):
    from conftest import ExtBroker, LOGDIR
    b = ExtBroker(os.path.join(LOGDIR, uniq("ext") + ".broker.log")).start()
    try:
        d1 = make_daemon("--broker", b.arg)
        d2 = make_daemon("--broker", b.arg)

        async def body():
            bob_user = uniq("bob")
            bob, w0 = await ws_connect(d1, bob_user)
            await bob.close()
            alice, _ = await ws_connect(d2, uniq("alice"))
            await chat_offline(alice, uniq("nobody"), "w")  # past the broker's warm-up second
            acks = await send_offline(alice, bob_user, 3, "x")
            bob, frames, w1 = await resume(d2, bob_user, since_of(w0))
            check_replay(frames, acks, "x", w0["seq"] + 1)
            assert w1["recovered"] is True and w1["missed"] == 0, w1

        run(body())
    finally:
        b.kill()
