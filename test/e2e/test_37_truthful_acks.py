"""37 — acks stay truthful around a broker restart: `offline` means no session
of the receiver existed, so a chat to a user who stays connected is answered
`delivered` or `unavailable`, never `offline`, while the broker dies and comes
back (embedded broker respawned by the supervisor; external broker restarted).
And around a worker killed with chats in its queue (issue 14, the soak's
`unavailable` while the broker was up): each such chat draws no receipt, so its
sender publishes a copy; the chat is then answered `delivered` (the receiver
logged in again and got it, once) or `offline` (nobody holds the receiver),
exactly once and never `unavailable` while the broker is up."""
import asyncio
import json
import os
import shutil
import signal
import tempfile
import time

import websockets

from conftest import (WAIT, ExtBroker, LOGDIR, chat, connect_on_distinct_workers, recv_json,
                      rss_kb, run, uniq, worker_of, ws_connect)


async def _until_delivered(alice, bob_user, kill, limit=5.0):
    """Kill the broker, then send chats with ids one at a time (each waits
    for its own answer) until one is delivered; return every answer."""
    kill()
    t0 = time.monotonic()
    answers = []
    i = 0
    while True:
        i += 1
        await alice.send(chat(bob_user, i, id=f"t{i}"))
        while True:                     # skip anything that is not the answer
            f = await recv_json(alice, timeout=3)
            if f.get("id") == f"t{i}":
                break
        answers.append(f)
        assert not (f["type"] == "ack" and f.get("status") == "offline"), \
            f"a connected user was reported offline: {answers}"
        if f["type"] == "ack" and f.get("status") == "delivered":
            return answers, time.monotonic() - t0
        assert f["type"] == "error" and f["code"] == "unavailable", answers
        assert time.monotonic() - t0 < limit, f"not delivered within {limit} s: {answers}"
        await asyncio.sleep(0.02)       # pacing between attempts, not an await


def test_embedded_broker_restart_no_false_offline(make_daemon):
    d = make_daemon()

    async def body():
        (alice, _, _), (bob, wb, _) = await connect_on_distinct_workers(
            d, [uniq("alice"), uniq("bob")])
        broker = d.broker_pids()[0]
        answers, took = await _until_delivered(
            alice, wb["user"], lambda: os.kill(broker, signal.SIGKILL))
        print(f"delivered again {took:.3f} s after the kill; answers before: "
              f"{[a.get('code') or a.get('status') for a in answers]}")

    run(body())


def test_external_broker_restart_no_false_offline(make_daemon):
    b = ExtBroker(os.path.join(LOGDIR, uniq("ext") + ".broker.log")).start()
    try:
        d = make_daemon("--broker", b.arg)

        def restart():
            b.kill()
            b.start()

        async def body():
            (alice, _, _), (bob, wb, _) = await connect_on_distinct_workers(
                d, [uniq("alice"), uniq("bob")])
            answers, took = await _until_delivered(alice, wb["user"], restart)
            print(f"delivered again {took:.3f} s after the restart began")

        run(body())
    finally:
        b.kill()


def test_stalled_worker_memory_bounded_and_acks_truthful(make_daemon):
    """Bounded queues, truthful acks (issue 14.14), on ipc:// (no heartbeats
    there, so a stopped worker keeps its subscriptions). The worker holding bob is
    stopped (SIGSTOP); alice sends 12,000 chats of 8 KB with ids to bob
    (96 MB). The broker (--hwm 500) holds at most its queue for the stalled
    worker and drops the rest for it: its memory does not follow the flood.
    Every chat gets exactly one answer and none is a lie: no `offline` (bob
    was online all along), no `delivered` (his worker never ran). After
    SIGCONT, what sat in the queues comes too late (its sender answered
    `unavailable` already) and is not delivered: bob's next chat is a fresh
    one, delivered."""
    ipc = tempfile.mkdtemp(prefix="zwb")
    b = ExtBroker(os.path.join(LOGDIR, uniq("ext") + ".broker.log"), args=["--hwm", "500"],
                  ipc_dir=ipc)
    b.start()
    try:
        d = make_daemon("--broker", b.arg, rate_limit="0", max_outbound=str(64 << 20))

        async def body():
            (alice, _, _), (bob, wb, bob_worker) = await connect_on_distinct_workers(
                d, [uniq("alice"), uniq("bob")])
            bob_user = wb["user"]
            for i in range(20):             # calibrate and prove the route first
                await alice.send(chat(bob_user, i, id=f"w{i}"))
                f = await recv_json(alice)
                assert f.get("status") == "delivered", f
                assert (await recv_json(bob)).get("msg") == i
            before = rss_kb(b.proc.pid)
            os.kill(bob_worker, signal.SIGSTOP)
            try:
                n, big = 12000, "x" * 8192
                answers = {}

                async def reader():
                    while len(answers) < n:
                        f = await recv_json(alice, timeout=10)
                        answers.setdefault(f.get("id"), []).append(f)

                task = asyncio.ensure_future(reader())
                for i in range(n):
                    await alice.send(chat(bob_user, big, id=f"f{i}"))
                await asyncio.wait_for(task, 60)
                grown = rss_kb(b.proc.pid) - before
            finally:
                os.kill(bob_worker, signal.SIGCONT)
            assert len(answers) == n and all(len(v) == 1 for v in answers.values()), \
                "every chat gets exactly one answer"
            kinds = {}
            for (f,) in answers.values():
                k = f.get("status") or f.get("code")
                kinds[k] = kinds.get(k, 0) + 1
            assert set(kinds) == {"unavailable"}, f"answers while bob's worker was stopped: {kinds}"
            assert grown < 40 << 10, f"broker grew {grown} KiB for 96 MB sent to a stalled worker"
            # after SIGCONT: late messages are not delivered; a fresh one is
            t0 = time.monotonic()
            i = 0
            while True:
                i += 1
                await alice.send(chat(bob_user, f"fresh{i}", id=f"z{i}"))
                f = await recv_json(alice)
                if f.get("status") == "delivered":
                    break
                assert f.get("code") == "unavailable", f
                assert time.monotonic() - t0 < 10, "bob's worker never came back"
                await asyncio.sleep(0.05)   # pacing between attempts
            got = await recv_json(bob)
            assert got.get("msg") == f"fresh{i}", \
                f"bob got {str(got.get('msg'))[:20]!r}: a chat already answered unavailable"

        run(body(), timeout=120)
    finally:
        b.kill()
        shutil.rmtree(ipc, ignore_errors=True)


# --------------------------------------------------------------------------
# a worker killed -9 with chats in its queue

async def _chats_queued_at_stopped_worker(alice, alice_user, bob_user, bob_worker, n, tag):
    """Stop bob's worker, send n chats with ids to bob, and prove they went
    through the broker into that worker's queue: alice's own marker chat,
    published after them on the same pipe, has come back. Returns the ids."""
    os.kill(bob_worker, signal.SIGSTOP)
    ids = [f"{tag}{i}" for i in range(n)]
    for i, cid in enumerate(ids):
        await alice.send(chat(bob_user, i, id=cid))
    await alice.send(chat(alice_user, "marker", id=f"{tag}-marker"))
    answers = {}
    while True:                         # answers to the n may already come: keep them
        f = await recv_json(alice)
        if f.get("type") == "chat" and f.get("msg") == "marker":
            return ids, answers
        if f.get("id") in answers or f.get("id") in ids:
            answers.setdefault(f["id"], []).append(f)


async def _answers(alice, ids, answers, quiet_until):
    """Every id's answers: await one for each, then keep reading until
    quiet_until (the protocol's 1 s answer bound past the last send) so that
    a second answer would be seen."""
    loop = asyncio.get_running_loop()
    while any(i not in answers for i in ids) or loop.time() < quiet_until:
        left = quiet_until - loop.time()
        timeout = WAIT if any(i not in answers for i in ids) else max(0.01, left)
        try:
            f = await asyncio.wait_for(alice.recv(), timeout)
        except asyncio.TimeoutError:
            assert all(i in answers for i in ids), \
                f"unanswered after {WAIT} s: {[i for i in ids if i not in answers]}"
            break
        f = json.loads(f)
        if f.get("id") in ids:
            answers.setdefault(f["id"], []).append(f)
    return answers


async def _read_all(ws, into):
    """Append every chat frame of ws to into until it closes."""
    try:
        async for text in ws:
            f = json.loads(text)
            if f.get("type") == "chat":
                into.append(f)
    except websockets.ConnectionClosed:
        pass


def _check_answers(ids, answers, received):
    """Exactly one answer each, none `unavailable` (the broker was up), no
    `offline` for a chat the receiver got, every `delivered` received, and
    no chat twice on one connection. Returns the count of each status."""
    kinds = {}
    got = {}
    for conn, frames in received.items():
        mids = [f["mid"] for f in frames]
        assert len(mids) == len(set(mids)), f"a chat arrived twice on {conn}: {mids}"
        for f in frames:
            got[f["mid"]] = conn
    for cid in ids:
        a = answers[cid]
        assert len(a) == 1, f"{cid}: {len(a)} answers: {a}"
        f = a[0]
        assert f["type"] == "ack", f"{cid}: {f} while the broker was up"
        kinds[f["status"]] = kinds.get(f["status"], 0) + 1
        if f["status"] == "offline":
            assert f["mid"] not in got, f"{cid} answered offline, yet received: {f}"
        else:
            assert f["status"] == "delivered", f
            assert f["mid"] in got, f"{cid} answered delivered, never received: {f}"
    return kinds


def test_killed_receiver_worker_chats_answered_once_never_unavailable(make_daemon):
    """bob's worker is stopped, chats to bob queue in it, it is killed -9 and
    bob logs in again at once. Nothing the dead worker held was delivered (it
    never ran again), so each chat is `delivered` only by bob's new session
    (its copy) or `offline`: never `unavailable`, never twice."""
    d = make_daemon()

    async def body():
        alice_user, bob_user = uniq("alice"), uniq("bob")
        (alice, _, _), (bob, _, bob_worker) = await connect_on_distinct_workers(
            d, [alice_user, bob_user])
        await alice.send(chat(bob_user, "warm", id="warm"))     # the route is proven
        assert (await recv_json(alice)).get("status") == "delivered"
        assert (await recv_json(bob)).get("msg") == "warm"
        old = []
        reader = asyncio.ensure_future(_read_all(bob, old))
        try:
            ids, answers = await _chats_queued_at_stopped_worker(
                alice, alice_user, bob_user, bob_worker, 40, "k")
        finally:
            os.kill(bob_worker, signal.SIGKILL)
        sent = asyncio.get_running_loop().time()
        await asyncio.wait_for(reader, WAIT)                     # the old session ended
        bob2, _ = await ws_connect(d, bob_user)
        new = []
        reader2 = asyncio.ensure_future(_read_all(bob2, new))
        await _answers(alice, ids, answers, sent + 1.5)
        kinds = _check_answers(ids, answers, {"old": old, "new": new})
        print(f"after the kill: {kinds}; bob back on pid {worker_of(d, bob2)}")
        assert not old, f"the stopped worker delivered {old}"
        got = [f["msg"] for f in new]
        assert got == sorted(got), f"alice's chats out of order on bob's new connection: {got}"
        reader2.cancel()

    run(body())


def test_killed_receiver_worker_offline_while_receiver_is_gone(make_daemon):
    """The same, but bob does not come back: nobody holds him when the copies
    go, so every chat is `offline` (not delivered, no session), never
    `unavailable` while the broker is up."""
    d = make_daemon()

    async def body():
        alice_user, bob_user = uniq("alice"), uniq("bob")
        (alice, _, _), (bob, _, bob_worker) = await connect_on_distinct_workers(
            d, [alice_user, bob_user])
        await alice.send(chat(bob_user, "warm", id="warm"))
        assert (await recv_json(alice)).get("status") == "delivered"
        try:
            ids, answers = await _chats_queued_at_stopped_worker(
                alice, alice_user, bob_user, bob_worker, 40, "g")
        finally:
            os.kill(bob_worker, signal.SIGKILL)
        sent = asyncio.get_running_loop().time()
        await _answers(alice, ids, answers, sent + 1.5)
        kinds = _check_answers(ids, answers, {})
        assert kinds == {"offline": len(ids)}, kinds

    run(body())
