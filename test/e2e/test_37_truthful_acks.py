"""37 — acks stay truthful around a broker restart: `offline` means no session
of the receiver existed, so a chat to a user who stays connected is answered
`delivered` or `unavailable`, never `offline`, while the broker dies and comes
back (embedded broker respawned by the supervisor; external broker restarted)."""
import asyncio
import os
import signal
import time

from conftest import ExtBroker, LOGDIR, chat, connect_on_distinct_workers, recv_json, run, uniq


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
