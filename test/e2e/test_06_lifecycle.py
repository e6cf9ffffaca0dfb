"""06 — process lifecycle: a worker killed with SIGKILL is replaced and its
users can come back; SIGTERM closes every client with 1001 and leaves no child."""
import asyncio
import os
import re
import signal

from conftest import (WAIT, assert_usable, chat, check_chat, connect_on_distinct_workers,
                      proc_stat, recv_json, run, time_until_offline, wait_closed, worker_of,
                      ws_connect)


def test_worker_sigkill_respawn(daemon):
    async def body():
        (alice, _, pa), (bob, _, pb) = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        old = set(daemon.worker_pids())
        brokers = daemon.broker_pids()
        mark = daemon.mark()
        t_kill = asyncio.get_running_loop().time()
        os.kill(pb, signal.SIGKILL)

        assert await wait_closed(bob) == 1006, "bob's connection did not just drop"
        # bob is offline for the cluster within 1 s of his worker's death
        took = await time_until_offline(alice, "bob", t_kill)
        assert took <= 1.2, f"bob reported offline only {took:.2f} s after the kill"
        new = daemon.wait_new_worker(old, start=mark)
        assert proc_stat(new)[0] == "zwsd-worker"
        # the supervisor said so, loudly (<3> or <4>), naming the dead pid
        daemon.wait_log(re.compile(rf"^<[34]>zwsd\[\d+\]: .*\b{pb}\b"), timeout=1, start=mark)
        assert set(daemon.worker_pids()) == {pa, new}, daemon.children()
        assert daemon.broker_pids() == brokers, "the broker was restarted too"

        assert alice.open, f"alice (worker {pa}) lost her connection: {alice.close_code}"
        await assert_usable(alice, "alice", "alice-still-here")

        # bob comes back, onto the new worker (alice holds the other one)
        for _ in range(50):
            bob2, _ = await ws_connect(daemon, "bob")
            if worker_of(daemon, bob2) == new:
                break
            await asyncio.wait_for(bob2.close(), WAIT)
        assert worker_of(daemon, bob2) == new, "bob never landed on the new worker"
        assert worker_of(daemon, alice) == pa
        await alice.send(chat("bob", "welcome back", id="a1"))
        got, ack = await asyncio.gather(recv_json(bob2), recv_json(alice))
        mid = check_chat(got, "alice", "bob", "welcome back")
        assert ack == {"type": "ack", "id": "a1", "mid": mid, "status": "delivered"}
        await bob2.send(chat("alice", "thanks", id="b1"))
        got, ack = await asyncio.gather(recv_json(alice), recv_json(bob2))
        mid = check_chat(got, "bob", "alice", "thanks")
        assert ack == {"type": "ack", "id": "b1", "mid": mid, "status": "delivered"}
    run(body())


def test_sigterm_closes_clients_1001_and_exits_0(daemon):
    async def body():
        conns = await connect_on_distinct_workers(daemon, ["alice", "bob"])
        kids = daemon.children()
        assert sorted(c for _, c in kids) == ["zwsd-broker", "zwsd-worker", "zwsd-worker"], kids
        # stop() blocks: run it in a thread so the clients keep answering the
        # server's close handshake meanwhile
        rc = await asyncio.to_thread(daemon.stop)
        codes = [await wait_closed(ws) for ws, _, _ in conns]
        assert codes == [1001, 1001], f"clients closed with {codes}"
        assert rc == 0, f"supervisor exited {rc}"
        assert daemon.survivors() == [], f"children left: {daemon.survivors()}"
        for pid, comm in kids:
            st = proc_stat(pid)
            assert st is None or st[1] == "Z", f"{comm} {pid} still alive: {st}"
    run(body())
