"""42 — the broker as sequencer (proto/ENVELOPE.md "History and recovery on the
bus"), against a real zwsd-broker, with raw ZeroMQ peers standing in for a
worker: a PUB that publishes, a SUB that is its inbox (w:<origin>|).

Chats to a user with a subscriber come back numbered seq 1, 2, 3 under one
epoch (a publisher's own seq and epoch replaced, unknown keys kept); chats to
a user without one are kept and answered `offline` with `stored: true` (not
with --history-size 0, not during the broker's warm-up); a history query on
s| is answered on w:<origin>| with the stored envelopes, byte for byte as
forwarded, oldest first, then an end with the stream's epoch and last seq and
the recovered/missed verdict (since in the window, at 0, from another epoch,
absent, malformed); and a replay far larger than what the subscriber's queue
and socket buffers hold arrives whole and in order (paced, not dropped)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import msgpack
import zmq

from conftest import LOGDIR, WAIT, ZWSD, ZWSD_BROKER, ExtBroker, uniq


class Peer:
    """A worker's two sockets, raw: PUB to the broker's publish endpoint, SUB
    on its subscribe endpoint subscribed to w:<origin>| (and `topics`)."""

    def __init__(self, broker, topics=(), rcvhwm=None):
        self.origin = uniq("w")
        self.inbox = f"w:{self.origin}|".encode()
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.setsockopt(zmq.SNDHWM, 0)          # never drop what the test publishes
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        if rcvhwm:
            self.sub.setsockopt(zmq.RCVHWM, rcvhwm)
        for t in (self.inbox,) + tuple(t.encode() for t in topics):
            self.sub.setsockopt(zmq.SUBSCRIBE, t)
        pub_ep, sub_ep = broker.endpoints
        self.pub.connect(pub_ep)
        self.sub.connect(sub_ep)
        self.req = 0

    def close(self):
        self.pub.close()
        self.sub.close()
        self.ctx.term()

    def publish(self, topic, env):
        self.pub.send_multipart([topic.encode(), msgpack.packb(env)])

    def recv(self, timeout=WAIT):
        """The next (topic, raw envelope, decoded envelope) on the SUB."""
        assert self.sub.poll(int(timeout * 1000)), f"nothing arrived within {timeout} s"
        frames = self.sub.recv_multipart()
        assert len(frames) == 2, frames
        return frames[0].decode(), frames[1], msgpack.unpackb(frames[1])

    def next_req(self):
        self.req += 1
        return self.req

    def wait_live(self):
        """Both ways are up once a presence query comes back on the inbox: the
        PUB is connected and the broker has our subscriptions. (A PUB drops
        what it sends before it is connected: the query is repeated.)"""
        deadline = time.monotonic() + WAIT
        while True:
            req = self.next_req()
            self.publish("s|", {"v": 1, "kind": "presence", "origin": self.origin, "req": req,
                                "users": ["nobody"]})
            if self.sub.poll(200):
                topic, _, e = self.recv()
                assert topic == self.inbox.decode() and e["kind"] == "presence", e
                return
            assert time.monotonic() < deadline, "the broker never answered a presence query"

    def chat(self, to, msg, req=0, **extra):
        env = {"v": 1, "kind": "chat", "sender": "carol", "to": to, "msg": json.dumps(msg),
               "mid": f"{self.origin}-{msg}", "time": 1700000000000 + len(str(msg))}
        if req:
            env.update(origin=self.origin, req=req)
        env.update(extra)
        self.publish(f"u:{to}|", env)

    def stored_chat(self, to, msg):
        """A chat to a user nobody subscribes to, answered `offline` with
        `stored: true`. In the broker's first second (warm-up) such a chat is
        answered `unavailable` and not kept: then it is sent again."""
        deadline = time.monotonic() + WAIT
        while True:
            req = self.next_req()
            self.chat(to, msg, req=req)
            topic, _, r = self.recv()
            assert topic == self.inbox.decode() and r["kind"] == "receipt" and r["req"] == req, r
            if r["status"] == "offline":
                return r
            assert r["status"] == "unavailable" and not r.get("stored"), r
            assert time.monotonic() < deadline, "still warming up after 5 s"
            time.sleep(0.05)                        # pacing between attempts

    def query(self, stream, since=None, req=None):
        req = req or self.next_req()
        q = {"v": 1, "kind": "history", "origin": self.origin, "req": req, "stream": stream}
        if since is not None:
            q["since"] = since
        self.publish("s|", q)
        return req

    def answer(self, req):
        """The items (raw stored envelopes) and the end of history answer req."""
        items = []
        while True:
            topic, _, e = self.recv()
            assert topic == self.inbox.decode(), (topic, e)
            assert e["kind"] == "history" and e["req"] == req, e
            if "status" in e:
                assert "item" not in e, e
                return items, e
            assert isinstance(e["item"], bytes), e
            items.append(e["item"])


def _broker(*args, ipc_dir=None):
    return ExtBroker(os.path.join(LOGDIR, uniq("hist") + ".broker.log"), args=list(args),
                     ipc_dir=ipc_dir).start()


def _done(end, epoch, seq, recovered, missed):
    assert end["status"] == "done", end
    assert end["epoch"] == epoch, end
    assert end.get("seq", 0) == seq, end
    assert end["recovered"] is recovered and end["missed"] == missed, end


def test_chats_are_numbered_kept_and_replayed():
    b = _broker()
    alice, bob = uniq("alice"), uniq("bob")
    w = Peer(b, topics=[f"u:{alice}|"])
    try:
        w.wait_live()
        # live, to a user with a subscriber: numbered 1, 2, 3 under one epoch;
        # a publisher's own seq and epoch replaced, an unknown key kept
        for i in range(3):
            w.chat(alice, i, seq=999, epoch="forged.1", future={"k": [1, 2]})
        live = []
        for i in range(3):
            topic, raw, e = w.recv()
            assert topic == f"u:{alice}|", (topic, e)
            assert e["msg"] == json.dumps(i) and e["mid"] == f"{w.origin}-{i}", e
            assert e["seq"] == i + 1, e
            assert e["future"] == {"k": [1, 2]}, e
            live.append((raw, e))
        epoch_a = live[0][1]["epoch"]
        assert epoch_a != "forged.1" and all(e["epoch"] == epoch_a for _, e in live), live
        assert re.fullmatch(r"[\x21-\x7e]{1,32}", epoch_a), epoch_a

        # offline: kept, receipt `offline` + `stored`
        for i in range(4):
            r = w.stored_chat(bob, f"b{i}")
            assert r["status"] == "offline" and r["stored"] is True, r
            assert r["mid"] == f"{w.origin}-b{i}", r

        # the position only: no item, the stream's epoch and last seq
        items, end = w.answer(w.query(f"u:{bob}|"))
        assert items == [], items
        epoch_b = end["epoch"]
        _done(end, epoch_b, 4, True, 0)

        # from the start: the four, oldest first, numbered 1..4
        items, end = w.answer(w.query(f"u:{bob}|", since=f"{epoch_b}:0"))
        got = [msgpack.unpackb(raw) for raw in items]
        assert [(g["seq"], g["epoch"], g["msg"]) for g in got] == \
            [(i + 1, epoch_b, json.dumps(f"b{i}")) for i in range(4)], got
        assert all(g["kind"] == "chat" and g["to"] == bob and g["origin"] == w.origin
                   for g in got), got
        _done(end, epoch_b, 4, True, 0)

        # after seq 2: 3 and 4
        items, end = w.answer(w.query(f"u:{bob}|", since=f"{epoch_b}:2"))
        assert [msgpack.unpackb(raw)["seq"] for raw in items] == [3, 4]
        _done(end, epoch_b, 4, True, 0)

        # alice's stream: the items are the very bytes that were forwarded live
        items, end = w.answer(w.query(f"u:{alice}|", since=f"{epoch_a}:1"))
        assert items == [live[1][0], live[2][0]]
        _done(end, epoch_a, 3, True, 0)

        # another epoch (a previous broker's): all it has, and recovered false
        items, end = w.answer(w.query(f"u:{bob}|", since="Zz9Zz9Zz9Zz.0:2"))
        assert [msgpack.unpackb(raw)["seq"] for raw in items] == [1, 2, 3, 4]
        _done(end, epoch_b, 4, False, -1)

        # malformed queries: only an end with status error
        for stream, since in ((f"x:{bob}|", None), (f"u:{bob}", None), (f"u:{bob}|", "garbage"),
                              (f"u:{bob}|", f"{epoch_b}:-1")):
            items, end = w.answer(w.query(stream, since=since))
            assert items == [] and end["status"] == "error", (stream, since, end)
    finally:
        w.close()
        b.kill()


def test_history_size_zero_numbers_and_keeps_nothing():
    b = _broker("--history-size", "0")
    bob = uniq("bob")
    w = Peer(b)
    try:
        w.wait_live()
        for i in range(3):
            r = w.stored_chat(bob, i)
            assert r["status"] == "offline" and not r.get("stored"), r
        items, end = w.answer(w.query(f"u:{bob}|"))
        epoch = end["epoch"]
        _done(end, epoch, 3, True, 0)
        items, end = w.answer(w.query(f"u:{bob}|", since=f"{epoch}:0"))
        assert items == []
        _done(end, epoch, 3, False, 3)
    finally:
        w.close()
        b.kill()


def test_a_replay_larger_than_the_queues_arrives_whole():
    """--hwm 10 and a subscriber that reads nothing (RCVHWM 10): 3,000 items of
    1 KB are far more than its queues and the socket buffers hold. The broker
    says (log) that the answer waits; then the subscriber reads, and gets every
    item, in order, then the end."""
    ipc = tempfile.mkdtemp(prefix="zwh", dir="/tmp")
    b = _broker("--hwm", "10", "--history-size", "5000", ipc_dir=ipc)
    bob, n = uniq("bob"), 3000
    w = Peer(b, rcvhwm=10)
    try:
        w.wait_live()
        w.stored_chat(bob, "first")                 # warm-up is over from here
        pad = "p" * 1000
        for i in range(n - 2):
            w.chat(bob, f"{i}-{pad}", mid=f"{w.origin}-{i}")     # no req: no receipt
        w.stored_chat(bob, "last")                  # behind them all: all kept
        items, end = w.answer(w.query(f"u:{bob}|"))
        epoch = end["epoch"]
        _done(end, epoch, n, True, 0)
        with open(b.log) as f:
            mark = len(f.read())
        req = w.query(f"u:{bob}|", since=f"{epoch}:0")
        deadline = time.monotonic() + WAIT
        pattern = re.compile(rf"answer to {w.origin}, req {req}, waits")
        while True:                                 # the event: the broker paced it
            with open(b.log) as f:
                if pattern.search(f.read()[mark:]):
                    break
            assert time.monotonic() < deadline, "the broker never paused the answer"
            time.sleep(0.02)
        items, end = w.answer(req)
        seqs = [msgpack.unpackb(raw)["seq"] for raw in items]
        assert seqs == list(range(1, n + 1)), \
            f"{len(seqs)} items; first gap after {next((s for i, s in enumerate(seqs) if s != i + 1), None)}"
        _done(end, epoch, n, True, 0)
    finally:
        w.close()
        b.kill()
        shutil.rmtree(ipc, ignore_errors=True)


class _Embedded:
    """The embedded broker's endpoints under a daemon's runtime directory."""

    def __init__(self, d):
        self.endpoints = (f"ipc://{os.path.join(d.tmpdir, 'pub')}",
                          f"ipc://{os.path.join(d.tmpdir, 'sub')}")


def test_zwsd_passes_the_history_flags_to_its_broker(make_daemon, tmp_path):
    """The embedded broker keeps an offline chat by default (a first start:
    no warm-up), and none with --history-size 0 on zwsd; a reload that
    changes a --history option only warns."""
    d = make_daemon(workers=1)
    w = Peer(_Embedded(d))
    try:
        w.wait_live()
        r = w.stored_chat(uniq("bob"), "x")
        assert r["status"] == "offline" and r["stored"] is True, r
    finally:
        w.close()
    conf = str(tmp_path / "zwsd.conf")
    with open(conf, "w") as f:
        f.write("history-ttl = 60\n")
    d = make_daemon("--config", conf, workers=1, history_size=0)
    w = Peer(_Embedded(d))
    try:
        w.wait_live()
        r = w.stored_chat(uniq("bob"), "x")
        assert r["status"] == "offline" and not r.get("stored"), r
    finally:
        w.close()
    brokers = d.broker_pids()
    with open(conf, "w") as f:
        f.write("history-ttl = 61\nhistory-memory = 1048576\n")
    mark = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"^<4>zwsd\[\d+\]: .*need a restart: .*history-ttl, history-memory", timeout=WAIT,
               start=mark)
    assert d.broker_pids() == brokers


def test_bad_history_values_exit_2_with_one_line(tmp_path):
    cases = [([ZWSD_BROKER, "--history-size", "1000001"], "--history-size"),
             ([ZWSD_BROKER, "--history-ttl", "0"], "--history-ttl"),
             ([ZWSD_BROKER, "--history-memory", "64M"], "--history-memory"),
             ([ZWSD_BROKER, "--history-memory", "131071"], "--history-memory"),
             ([ZWSD, "--history-size", "-1"], "--history-size"),
             ([ZWSD, "--history-ttl", "86401"], "--history-ttl"),
             ([ZWSD, "--history-memory", "1k"], "--history-memory")]
    for argv, flag in cases:
        p = subprocess.run(argv + ["--runtime-dir", str(tmp_path)] if argv[0] == ZWSD else argv,
                           capture_output=True, text=True, timeout=10)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and flag in lines[0], (argv, p.returncode,
                                                                           p.stderr)
