"""37 — acks stay truthful around a broker restart: `offline` means no session
of the receiver existed, so a chat to a user who stays connected is answered
`delivered` or `unavailable`, never `offline`, while the broker dies and comes
back (embedded broker respawned by the supervisor; external broker restarted)."""
import asyncio
import os
import shutil
import signal
import tempfile
import time

from conftest import (ExtBroker, LOGDIR, chat, connect_on_distinct_workers, recv_json, rss_kb, run,
                      uniq)


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
