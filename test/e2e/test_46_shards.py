"""46 — broker shards (issue 19): `zwsd --broker PUB,SUB;PUB,SUB` spreads the
topics over several zwsd-broker instances by rendezvous hashing (proto/shard.h):
score(name, topic) = mix64(fnv1a64(name) ^ fnv1a64(topic)), the highest score
wins, a tie goes to the shard listed first; a shard's name is its broker's PUB
endpoint as written. shard_of() below is that formula again, in Python: the
tests pick user and group names so that some land on each shard.

What a client sees must not change with two shards: 1:1 chats, groups,
broadcasts (published once, on the shard of "b|"), presence (each asked user's
shard is asked, the answers merged), the HTTP API's online count and presence,
single-session kicks, zwsd-send (which publishes to the topic's shard). Then a
shard dies (kill -9 of its broker): only its topics are `unavailable`, the other
shard's users chat on, the cluster's online count is refused (503) rather than
partial, and when the broker is back on the same ports, chats, groups,
presence and the online count work again without any client reconnecting
(libzmq replays the subscriptions).

A shard may be a pair of brokers (`PUB,SUB|PUB,SUB`, primary first): the
daemons publish to both, subscribe on both and hand each message on once. With
steady traffic (chats with ids, group messages), kill -9 of either broker of
the pair loses nothing, duplicates nothing and turns no ack false; the killed
broker comes back on the same ports and traffic stays exactly once (with the
primary back, every worker says `shard P: primary P active`). zwsd-send with a
pair publishes to both, delivered once, and still delivers with one dead. A
cluster with a pair and a single broker as its two shards passes the basics.

On loopback (ExtBroker, two daemons as test_34 does) and, when network
namespaces can be made (root), on hosts broker1, broker2, a and b (netns.py),
where daemon host a's link is also cut and restored.

That shard_of() agrees with the daemons is proven by behaviour: when a shard's
broker is dead, exactly the users shard_of() puts there are `unavailable`, and a
broadcast is refused exactly when "b|" is there. It is also checked against
proto/shard.c itself (known answers, and a tiny C program when a compiler is
at hand)."""
import asyncio
import collections
import contextlib
import http.client
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import websockets

from conftest import (BUILD, LOG_LINE, LOGDIR, RFC3339_MS, WAIT, ExtBroker, chat, chat_offline,
                      check_chat, connect_on_distinct_workers, free_port, recv_json, run,
                      send_json, wait_closed, ws_connect)
from test_10_api import api_flags, api_port
from test_30_config import assert_usage_error, run_zwsd
import netns

ZWSD_SEND = os.path.join(BUILD, "zwsd-send")
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
M64 = (1 << 64) - 1


# --------------------------------------------------------------------------
# the shard formula (proto/shard.h), in Python

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for c in data:
        h ^= c
        h = (h * 0x100000001b3) & M64
    return h


def mix64(z):
    z ^= z >> 30
    z = (z * 0xbf58476d1ce4e5b9) & M64
    z ^= z >> 27
    z = (z * 0x94d049bb133111eb) & M64
    z ^= z >> 31
    return z


def shard_of(names, topic):
    """Index of the shard (by name: its first broker's PUB endpoint as written)
    that owns topic ("u:bob|", "g:room|", "b|")."""
    th = fnv1a64(topic.encode())
    pick, best = 0, None
    for i, name in enumerate(names):
        s = mix64(fnv1a64(name.encode()) ^ th)
        if best is None or s > best:        # a tie keeps the one listed first
            pick, best = i, s
    return pick


class Pair:
    """A shard that is a pair of brokers (ExtBroker or NsBroker), primary
    first: `P|S`; its name is the primary's PUB endpoint."""

    def __init__(self, primary, backup):
        self.primary, self.backup = primary, backup

    @property
    def endpoints(self):
        return self.primary.endpoints

    @property
    def arg(self):                          # zwsd --broker: PUB,SUB|PUB,SUB
        return f"{self.primary.arg}|{self.backup.arg}"

    @property
    def pub(self):                          # zwsd-send --broker: PUB|PUB
        return f"{self.primary.endpoints[0]}|{self.backup.endpoints[0]}"


class Shards:
    """The shards of a test (each an ExtBroker, an NsBroker or a Pair), in
    --broker order."""

    def __init__(self, brokers):
        self.brokers = list(brokers)
        self.names = [b.endpoints[0] for b in self.brokers]
        self.spec = ";".join(b.arg for b in self.brokers)         # zwsd --broker
        self.pub_list = [b.pub if isinstance(b, Pair) else b.endpoints[0] for b in self.brokers]
        self.pubs = ";".join(self.pub_list)                       # zwsd-send --broker
        self._n = 0

    def of(self, topic):
        return shard_of(self.names, topic)

    def _name(self, shard, base, prefix):
        while True:
            self._n += 1
            name = f"{base}{self._n}"
            if self.of(f"{prefix}:{name}|") == shard:
                return name

    def user(self, shard, base="u"):
        """A userId not used before in this test whose topic is on shard."""
        return self._name(shard, base, "u")

    def group(self, shard, base="g"):
        return self._name(shard, base, "g")


# --------------------------------------------------------------------------
# known answers from proto/shard.c (test/unit/test_shard.c's formula, and
# values printed by proto/shard.c's own functions)

KNOWN_FNV = {b"": 0xcbf29ce484222325, b"a": 0xaf63dc4c8601ec8c,
             b"u:bob|": 0xe99ed73326bcc87f, b"b|": 0x08a64807b54df3bb}
KNOWN_MIX = {0xe99ed73326bcc87f: 0xe9c6b2babb4ebd2e, 0x08a64807b54df3bb: 0x4a9118031d5c7244}
KNOWN_SHARD = [
    (["tcp://a:1", "tcp://b:1"], {"u:bob|": 1, "u:alice|": 1, "g:room|": 1, "b|": 0}),
    (["tcp://127.0.0.1:7001", "tcp://127.0.0.1:7003"],
     {"u:bob|": 1, "u:alice|": 1, "g:room|": 0, "b|": 0, "u:carol|": 1, "u:dave|": 0}),
]

C_CHECK = r"""
#include <stdio.h>
#include <string.h>
#include "shard.h"
/* check SPEC TOPIC...: the shard of each topic, as zwsd and zwsd-send pick it */
int main(int argc, char **argv)
{
    static shard_spec_t spec;
    char why[256];
    if (argc < 2 || shard_parse(argv[1], 0, &spec, why, sizeof why) < 0) {
        fprintf(stderr, "%s\n", argc < 2 ? "usage" : why);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        printf("%d\n", shard_of(&spec, argv[i], strlen(argv[i])));
    return 0;
}
"""


def test_shard_formula_known_answers():
    for data, h in KNOWN_FNV.items():
        assert fnv1a64(data) == h, f"fnv1a64({data!r}) = {fnv1a64(data):#x}, proto/shard.c {h:#x}"
    for z, m in KNOWN_MIX.items():
        assert mix64(z) == m, f"mix64({z:#x}) = {mix64(z):#x}, proto/shard.c {m:#x}"
    for names, want in KNOWN_SHARD:
        got = {t: shard_of(names, t) for t in want}
        assert got == want, f"shards of {names}: Python {got}, proto/shard.c {want}"
    # one shard owns everything; the order of the shards does not matter
    assert shard_of(["tcp://x:1"], "u:bob|") == 0
    names = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]
    for i in range(200):
        t = f"u:user{i}|"
        assert names[shard_of(names, t)] == names[::-1][shard_of(names[::-1], t)], t


def test_shard_formula_matches_proto_shard_c(tmp_path):
    """shard_of() against proto/shard.c compiled here, for 2 and 3 shards, both
    spellings of a shard (PUB and PUB,SUB: the name is the PUB), users, groups
    and the broadcast topic."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not os.path.exists(os.path.join(SRC, "proto", "shard.c")):
        pytest.skip("no C compiler or no proto/shard.c here: the known answers stand alone")
    src = tmp_path / "check.c"
    src.write_text(C_CHECK)
    exe = tmp_path / "check"
    p = subprocess.run([cc, "-std=c11", "-I", os.path.join(SRC, "proto"),
                        os.path.join(SRC, "proto", "shard.c"), str(src), "-o", str(exe)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"cannot compile the shard check: {p.stderr}"
    topics = ([f"u:user{i}|" for i in range(300)] + [f"g:room{i}|" for i in range(100)]
              + ["b|", "u:a.b@c.d|", "u:" + "x" * 64 + "|"])
    specs = [
        ["tcp://127.0.0.1:7001", "tcp://127.0.0.1:7003"],
        ["tcp://127.0.0.1:7003", "tcp://127.0.0.1:7001"],
        ["tcp://10.213.7.10:41000", "tcp://10.213.7.11:41002", "ipc:///run/zwsd/s3/pub"],
    ]
    for names in specs:
        for spec in (";".join(names), ";".join(f"{n},{n}x" for n in names)):
            p = subprocess.run([str(exe), spec, *topics], capture_output=True, text=True,
                               timeout=30)
            assert p.returncode == 0, (spec, p.stderr)
            c_says = [int(x) for x in p.stdout.split()]
            py_says = [shard_of(names, t) for t in topics]
            wrong = [(t, c, q) for t, c, q in zip(topics, c_says, py_says) if c != q]
            assert not wrong, f"{spec}: (topic, proto/shard.c, Python) differ: {wrong[:5]}"
            assert {0, 1} <= set(c_says), f"{spec}: every topic on one shard?"


# --------------------------------------------------------------------------
# a cluster: two daemons on the same shards

class Cluster:
    def __init__(self, daemons, shards, send, net=None):
        self.d = daemons            # [d1, d2]
        self.sh = shards
        self._send = send           # argv of zwsd-send's options -> CompletedProcess
        self.net = net

    async def send(self, *args):
        return await asyncio.to_thread(self._send, [str(a) for a in args])

    async def send_refused(self, spec, target, word):
        p = await self.send("--broker", spec, *target, "--msg", '"refused"')
        check_send_refused(p, spec, target, word)


def check_send_refused(p, spec, target, word):
    """zwsd-send refused --broker spec: exit 2, nothing on stdout, one line on
    stderr naming --broker and saying word."""
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and p.stdout == "" and len(lines) == 1, \
        f"zwsd-send --broker {spec!r} {target}: exit {p.returncode}, stdout {p.stdout!r}, " \
        f"stderr {p.stderr!r} (expected exit 2, one line)"
    assert "--broker" in lines[0] and word in lines[0].lower(), \
        f"zwsd-send --broker {spec!r}: {lines[0]!r} does not say {word!r}"


def malformed_lists(a, b, sub=False):
    """(--broker value, a word its refusal says) for shard lists that are
    wrong whatever the daemon supports; a and b: two brokers as the list
    spells them (PUB, or PUB,SUB when sub)."""
    third = "tcp://127.0.0.1:5,tcp://127.0.0.1:6" if sub else "tcp://127.0.0.1:5"
    bad = [(f"{a};", "endpoint"), (f"{a};;{b}", "endpoint"), (f";{a}", "endpoint"),
           (f"{a};http://x:1" + (",http://x:2" if sub else ""), "endpoint"),
           (f"{a};{a}", "twice"), (f"{a}|{a}", "itself"), (f"{a}|{b}|{third}", "not more")]
    if sub:
        bad.append((f"{a};tcp://127.0.0.1:3", "sub"))
    return bad


def safe_name(request):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)


@pytest.fixture
def brokers(request):
    """Two zwsd-brokers on tcp://127.0.0.1 (A and B, listed in that order);
    put it before make_daemon in a test's arguments so the daemons stop first."""
    bs = [ExtBroker(os.path.join(LOGDIR, f"{safe_name(request)}.broker{n}.log")) for n in "AB"]
    try:
        for b in bs:
            b.start()
        yield Shards(bs)
    finally:
        for b in bs:
            b.kill()


def local_send(args):
    return subprocess.run([ZWSD_SEND, *args], capture_output=True, text=True, timeout=20)


def loopback_cluster(make_daemon, sh, workers=2):
    """Two daemons, each its own port, runtime directory and HTTP API, both
    with --broker listing both shards (and clients allowed to broadcast)."""
    ds = []
    while len(ds) < 2:
        d = make_daemon(workers=workers, broker=sh.spec, allow_client_broadcast=True,
                        **api_flags())
        if api_port(d) in (d.port, *(x.port for x in ds), *(api_port(x) for x in ds)):
            # free_port() gave the same port twice (the API's, then the
            # listener's): zwsd takes both on one port; pick again
            print(f"{who(d)}: listener and API on one port by chance; another daemon")
            d.stop()
            continue
        ds.append(d)
    assert ds[0].port != ds[1].port and ds[0].tmpdir != ds[1].tmpdir
    return Cluster(ds, sh, local_send)


def is_ns(d):
    return isinstance(d, netns.NsDaemon)


async def connect(d, users):
    """Connect users to daemon d, on distinct workers where that can be
    arranged (and proven: ss sees only this namespace's sockets)."""
    if not is_ns(d) and 1 < len(users) <= d.workers:
        return [(ws, w) for ws, w, _ in await connect_on_distinct_workers(d, users)]
    return [await ws_connect(d, u) for u in users]


def who(d):
    return f"{d.host}:{d.port}"


async def ask(ws, obj, what, timeout=WAIT):
    """Send obj (with its "id") and return the next frame, which must answer it."""
    await send_json(ws, obj)
    try:
        f = await recv_json(ws, timeout)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None
    assert f.get("id") == obj["id"], f"{what}: expected the answer to {obj['id']!r}, got {f}"
    return f


async def delivered(s, su, r, ru, tag, what=""):
    """s (user su) chats to ru, held by session r: r gets it, s gets `delivered`."""
    await s.send(chat(ru, tag, id=tag))
    try:
        got, ack = await asyncio.gather(recv_json(r), recv_json(s))
    except AssertionError as e:
        raise AssertionError(f"chat {tag} {su} -> {ru} {what}: {e}") from None
    mid = check_chat(got, su, ru, tag)
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, \
        f"chat {tag} {su} -> {ru} {what}: ack {ack}"


async def unavailable(ws, obj, what):
    f = await ask(ws, obj, what)
    assert f.get("type") == "error" and f.get("code") == "unavailable" \
        and isinstance(f.get("reason"), str), f"{what}: expected error unavailable, got {f}"


async def until_delivered(s, su, r, ru, tag, limit=10.0, allow=("unavailable",), what=""):
    """Chat s -> ru with ids, one at a time (each answer awaited, 50 ms between
    attempts), until one is `delivered`; answers in between must be in allow
    (`unavailable`, or also `offline` where the cluster may not know the
    receiver yet). The receiver's next frame must be the delivered one: no
    chat answered otherwise reaches it. Returns the answers before it."""
    t0 = time.monotonic()
    answers = []
    i = 0
    while True:
        i += 1
        cid = f"{tag}-{i}"
        f = await ask(s, json.loads(chat(ru, cid, id=cid)), f"{su} -> {ru} {what}")
        if f.get("type") == "ack" and f.get("status") == "delivered":
            break
        kind = f.get("code") if f.get("type") == "error" else f.get("status")
        answers.append(kind)
        assert kind in allow, f"{su} -> {ru} {what}: answer {f} (allowed until delivered: " \
                              f"{allow}); before: {answers}"
        assert time.monotonic() - t0 < limit, \
            f"{su} -> {ru} {what}: not delivered within {limit} s; answers {answers}"
        await asyncio.sleep(0.05)           # pacing between attempts
    got = await recv_json(r)
    assert got.get("msg") == cid and got.get("mid") == f.get("mid"), \
        f"{ru} {what}: next frame {got}, expected only the delivered {cid} " \
        f"(a chat answered {answers} must not arrive)"
    check_chat(got, su, ru, cid)
    return answers


async def join(ws, group, id, what=""):
    f = await ask(ws, {"type": "join", "group": group, "id": id}, f"join {group} {what}")
    assert f.get("type") == "ack" and f.get("status") == "joined", f"join {group} {what}: {f}"


def check_group(f, sender, group, msg, what=""):
    assert f.get("type") == "group" and f.get("sender") == sender and f.get("group") == group \
        and f.get("msg") == msg, f"{what}: expected group {group} {msg!r} from {sender}, got {f}"
    assert isinstance(f.get("mid"), str) and f["mid"] \
        and RFC3339_MS.match(f.get("createTime", "")), f
    return f["mid"]


async def group_everywhere(sender, su, members, group, msg, what=""):
    """A group message from member session `sender` reaches every member
    session (sender included, with its ack `sent`) once, as its next frame.
    members: [(ws, user)] without the sender."""
    await send_json(sender, {"type": "group", "group": group, "msg": msg, "id": msg})
    own = [await recv_json(sender), await recv_json(sender)]
    assert sorted(f.get("type") for f in own) == ["ack", "group"], f"{su} sent {msg} {what}: {own}"
    ack = next(f for f in own if f["type"] == "ack")
    mid = check_group(next(f for f in own if f["type"] == "group"), su, group, msg, what)
    assert ack == {"type": "ack", "id": msg, "mid": mid, "status": "sent"}, ack
    for ws, user in members:
        try:
            f = await recv_json(ws)
        except AssertionError as e:
            raise AssertionError(f"{user} never got group {group} message {msg} {what}: {e}") \
                from None
        assert check_group(f, su, group, msg, f"{user} {what}") == mid, (f, mid)


async def next_push(ws, user, kind, msg, mid=None, what="", **fields):
    f = await recv_json(ws)
    assert f.get("type") == kind and f.get("sender") == "system" and f.get("msg") == msg, \
        f"{user} {what}: expected only the {kind} push {msg!r} next, got {f}"
    for k, v in fields.items():
        assert f.get(k) == v, (k, f)
    if mid is not None:
        assert f.get("mid") == mid, f"{user} {what}: mid {f.get('mid')}, zwsd-send said {mid}"


def api_conn(d):
    host, port = (d.host, d.api_port) if is_ns(d) else ("127.0.0.1", api_port(d))
    return http.client.HTTPConnection(host, port, timeout=WAIT)


def api(d, method, path, body=None, conn=None):
    """(status, JSON body or text) of one HTTP API request to daemon d, on a
    connection of its own unless conn (kept alive, so one worker) is given."""
    c = conn or api_conn(d)
    try:
        data = json.dumps(body) if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        text = r.read().decode()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text
    finally:
        if conn is None:
            c.close()


async def aapi(d, method, path, body=None, conn=None):
    return await asyncio.to_thread(api, d, method, path, body, conn)


async def wait_online(d, users, sessions, timeout=10.0):
    """Poll /api/v1/online until it says users/sessions (the counts reach the
    brokers in the workers' 1 s reports: no event to await)."""
    deadline = time.monotonic() + timeout
    while True:
        status, got = await aapi(d, "GET", "/api/v1/online")
        assert status == 200, f"{who(d)} /api/v1/online: {status} {got}"
        if got == {"users": users, "sessions": sessions}:
            return
        assert time.monotonic() < deadline, \
            f"{who(d)} /api/v1/online still {got}, expected users={users} sessions={sessions}"
        await asyncio.sleep(0.1)


async def api_send_offline(d, user, what, limit=2.0):
    """POST a push to a user nobody holds: offline (stored); a broker in its
    first second after a start may say 503 unavailable (zwsd-broker(8)): retried."""
    t0 = time.monotonic()
    while True:
        status, got = await aapi(d, "POST", "/api/v1/send", {"receiver": user, "msg": "x"})
        if status == 200:
            assert got.get("status") == "offline", f"{what}: {got}"
            return
        assert status == 503 and got.get("error") == "unavailable", f"{what}: {status} {got}"
        assert time.monotonic() - t0 < limit, f"{what}: still 503 after {limit} s"
        await asyncio.sleep(0.05)


def wait_workers(d, regex, start, timeout=10.0):
    """Wait until every worker of d logged a line matching regex at or after
    log index start (e.g. its view of a shard changed)."""
    want = set(d.worker_pids())
    seen = set()
    i = start
    deadline = time.monotonic() + timeout
    while not want <= seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{who(d)}: only workers {sorted(seen)} of {sorted(want)} logged " \
                         f"{regex!r} within {timeout} s"
        line = d.wait_log(regex, timeout=left, start=i)
        m = LOG_LINE.match(line)
        if m:
            seen.add(int(m.group(3)))
        i = line.index + 1


async def await_workers(d, regex, start, timeout=10.0):
    await asyncio.to_thread(wait_workers, d, regex, start, timeout)


def label(sh, d, user):
    return f"{user} (shard {sh.names[sh.of(f'u:{user}|')]}, on {who(d)})"


async def four(c, base):
    """A user of each shard on each daemon: {user: ws} and {user: label}, in
    the order d1/shard 0, d1/shard 1, d2/shard 0, d2/shard 1."""
    sh = c.sh
    sess, where = {}, {}
    for d in c.d:
        users = [sh.user(0, base), sh.user(1, base)]
        for (ws, w), u in zip(await connect(d, users), users):
            assert w.get("user") == u, w
            sess[u] = ws
            where[u] = label(sh, d, u)
    return sess, where


# --------------------------------------------------------------------------
# scenarios: each runs on any two daemons of the same two shards (loopback
# or hosts), with users and groups of its own

async def s_chats(c):
    """Every user chats to every other, users of both shards on both daemons
    (same daemon and across, same shard and across): each `delivered`, the
    receiver gets it. A user nobody holds, on either shard, is `offline` to
    both daemons."""
    sess, where = await four(c, "chat")
    for su, s in sess.items():
        for ru, r in sess.items():
            if su != ru:
                await delivered(s, su, r, ru, f"{su}-to-{ru}", f"({where[su]} -> {where[ru]})")
    for shard in (0, 1):
        nobody = c.sh.user(shard, "nobody")
        for su, s in sess.items():
            await chat_offline(s, nobody, f"off-{su}-")


async def s_groups(c):
    """A group on each shard, every user of both shards on both daemons a
    member: a message from a member on either daemon reaches every member
    once (the sender too, with `sent`)."""
    sh = c.sh
    sess, where = await four(c, "grp")
    for shard in (0, 1):
        g = sh.group(shard, "room")
        for u, ws in sess.items():
            await join(ws, g, f"j-{g}", where[u])
        for su in (list(sess)[0], list(sess)[3]):          # one on each daemon
            others = [(ws, u) for u, ws in sess.items() if u != su]
            await group_everywhere(sess[su], su, others, g, f"{g}-from-{su}",
                                   f"(group on shard {sh.names[shard]}, from {where[su]})")


async def frames_until(ws, user, markers, what):
    """Frames of ws up to and including the last of the group messages whose
    msg is in markers."""
    frames, seen = [], set()
    while seen != set(markers):
        try:
            f = await recv_json(ws)
        except AssertionError as e:
            raise AssertionError(f"{user} {what}: markers {set(markers) - seen} never came "
                                 f"({e}); got {frames}") from None
        frames.append(f)
        if f.get("type") == "group" and f.get("msg") in markers:
            seen.add(f["msg"])
    return frames


def check_once(sh, frames, user, sender, msg, mid, markers, what):
    """Exactly one broadcast msg (with mid) among frames, before the marker
    of the group on the shard of "b|" (the same publisher, the same broker:
    in order), and nothing else but the markers."""
    bshard = sh.of("b|")
    bcs = [i for i, f in enumerate(frames) if f.get("type") == "broadcast"]
    assert len(bcs) == 1, f"{user} {what}: {len(bcs)} broadcasts before the markers: {frames}"
    f = frames[bcs[0]]
    assert f.get("sender") == sender and f.get("msg") == msg and f.get("mid") == mid \
        and RFC3339_MS.match(f.get("createTime", "")), f"{user} {what}: {f} (mid {mid})"
    mark = next(i for i, g in enumerate(frames)
                if g.get("type") == "group" and g.get("msg") == markers[bshard])
    assert bcs[0] < mark, f"{user} {what}: the broadcast came after the marker on its own " \
                          f"shard {sh.names[bshard]}: {frames}"
    rest = [g for i, g in enumerate(frames) if i != bcs[0] and g.get("msg") not in markers]
    assert not rest, f"{user} {what}: unexpected frames {rest}"


async def s_broadcast(c):
    """A broadcast goes out once, through the shard of "b|", and every worker
    listens for it on every shard: each session of users of both shards on
    both daemons gets it exactly once, from a client (--allow-client-
    broadcast), from zwsd-send with the shard list and from the HTTP API.
    Proof of "once": after it the same sender posts a marker in a group on
    each shard; everything a session got until both markers is counted."""
    sh = c.sh
    sess, where = await four(c, "bc")
    marks = [sh.group(0, "mark"), sh.group(1, "mark")]
    for u, ws in sess.items():
        for g in marks:
            await join(ws, g, f"j-{g}", where[u])
    users = list(sess)
    # a client
    su = users[0]
    s = sess[su]
    await send_json(s, {"type": "broadcast", "msg": {"news": 1}, "id": "bc1"})
    mk = [f"client-{g}" for g in marks]
    for g, m in zip(marks, mk):
        await send_json(s, {"type": "group", "group": g, "msg": m})
    frames = await frames_until(s, su, mk, "(the broadcasting client)")
    acks = [f for f in frames if f.get("type") == "ack"]
    assert len(acks) == 1 and acks[0].get("status") == "sent" and acks[0].get("id") == "bc1", frames
    mid = acks[0]["mid"]
    check_once(sh, [f for f in frames if f.get("type") != "ack"], su, su, {"news": 1}, mid, mk,
               "(client broadcast, own session)")
    for u in users[1:]:
        check_once(sh, await frames_until(sess[u], u, mk, "(client broadcast)"), u, su,
                   {"news": 1}, mid, mk, f"(client broadcast from {where[su]}, at {where[u]})")
    # zwsd-send, with the shard list: the broadcast to the shard of "b|"
    p = await c.send("--broker", sh.pubs, "--broadcast", "--msg", '{"news":2}')
    assert p.returncode == 0, f"zwsd-send --broadcast: exit {p.returncode}: {p.stderr}"
    mid = p.stdout.strip()
    mk = [f"send-{g}" for g in marks]
    for g, m in zip(marks, mk):
        p = await c.send("--broker", sh.pubs, "--group", g, "--msg", json.dumps(m))
        assert p.returncode == 0, f"zwsd-send --group {g}: {p.stderr}"
    for u in users:
        check_once(sh, await frames_until(sess[u], u, mk, "(zwsd-send broadcast)"), u, "system",
                   {"news": 2}, mid, mk, f"(zwsd-send --broadcast, at {where[u]})")
    # the HTTP API of the second daemon, on one connection (one worker
    # publishes the broadcast and the markers, in order)
    d2 = c.d[1]
    conn = api_conn(d2)
    try:
        status, got = await aapi(d2, "POST", "/api/v1/send",
                                 {"broadcast": True, "msg": {"news": 3}}, conn)
        assert status == 200 and got.get("status") == "sent", (status, got)
        mid = got["mid"]
        mk = [f"api-{g}" for g in marks]
        for g, m in zip(marks, mk):
            status, got = await aapi(d2, "POST", "/api/v1/send", {"group": g, "msg": m}, conn)
            assert status == 200 and got.get("status") == "sent", (status, got)
    finally:
        conn.close()
    for u in users:
        check_once(sh, await frames_until(sess[u], u, mk, "(API broadcast)"), u, "system",
                   {"news": 3}, mid, mk, f"(API broadcast on {who(d2)}, at {where[u]})")


async def s_presence(c):
    """Presence asks each asked user's shard and merges the answers: from a
    client on either daemon, for users of both shards held by both daemons
    and users nobody holds; and over the HTTP API (/api/v1/presence, in the
    asked order). An API push to a user of each shard held by the other
    daemon is `delivered`, to a user nobody holds `offline`."""
    sh = c.sh
    sess, where = await four(c, "pr")
    users = list(sess)
    nobody = [sh.user(0, "nobody"), sh.user(1, "nobody")]
    asked = [users[2], users[3], nobody[0], nobody[1], users[0], users[1]]
    want = {u: u in sess for u in asked}
    for i, u in enumerate((users[0], users[3])):
        f = await ask(sess[u], {"type": "presence", "users": asked, "id": f"p{i}"},
                      f"presence from {where[u]}")
        assert f == {"type": "presence", "id": f"p{i}", "online": want}, \
            f"presence of {asked} asked by {where[u]}: {f}"
    for shard in (0, 1):                    # one shard asked only
        one = [u for u in asked if sh.of(f"u:{u}|") == shard]
        f = await ask(sess[users[1]], {"type": "presence", "users": one, "id": f"s{shard}"},
                      f"presence of shard {shard} users")
        assert f == {"type": "presence", "id": f"s{shard}", "online": {u: want[u] for u in one}}, f
    for d in c.d:
        status, got = await aapi(d, "GET", "/api/v1/presence?users=" + ",".join(asked))
        assert status == 200 and got == {"online": want}, \
            f"{who(d)} /api/v1/presence: {status} {got}"
        assert list(got["online"]) == asked, f"{who(d)}: not in the asked order: {got}"
    for d, u in ((c.d[0], users[2]), (c.d[0], users[3]), (c.d[1], users[0]), (c.d[1], users[1])):
        status, got = await aapi(d, "POST", "/api/v1/send", {"receiver": u, "msg": {"to": u}})
        assert status == 200 and got.get("status") == "delivered", \
            f"API push on {who(d)} to {where[u]}: {status} {got}"
        await next_push(sess[u], u, "chat", {"to": u}, got["mid"], f"(API push on {who(d)})",
                        receiver=u)
    for d in c.d:
        for u in nobody:
            await api_send_offline(d, u, f"API push on {who(d)} to {label(sh, d, u)} (nobody)")


async def s_online(c):
    """GET /api/v1/online counts the whole cluster on either daemon: two
    users of each shard, one session each, are 4 users and 4 sessions; one
    more session of a user of each shard (--sessions multi is not on: a
    fresh user each) makes 6 and 6."""
    sh = c.sh
    sess, where = await four(c, "on")
    for d in c.d:
        await wait_online_cluster(d, 4, 4, sh)
    for shard, d in ((0, c.d[1]), (1, c.d[0])):
        await ws_connect(d, sh.user(shard, "more"))
    for d in c.d:
        await wait_online_cluster(d, 6, 6, sh)


async def wait_online_cluster(d, users, sessions, sh):
    """wait_online, and when the users count alone is off, say what it looks
    like: only the answering shard's users (the broker counts its own
    subscriptions, while sessions come from every worker's report)."""
    try:
        await wait_online(d, users, sessions)
    except AssertionError as e:
        status, got = await aapi(d, "GET", "/api/v1/online")
        if status == 200 and got.get("sessions") == sessions and got.get("users") != users:
            raise AssertionError(
                f"DAEMON BUG (shards): {who(d)} GET /api/v1/online = {got}, the cluster has "
                f"{users} users in {sessions} sessions over {len(sh.names)} shards; 'sessions' "
                f"is right (every worker reports to every broker) but 'users' is what one "
                f"shard's broker counts of its own subscriptions (broker.c ENV_ONLINE: "
                f"subtable_users), i.e. only that shard's users; users must be summed over the "
                f"shards (each user is on exactly one). {e}") from None
        raise


async def s_kick(c):
    """Single-session logins are cluster-wide on both shards: a user of each
    shard logs in on one daemon, then on the other: the older session is
    closed with 4001 and chats reach the newer one."""
    sh = c.sh
    for shard in (0, 1):
        first, second = (c.d[0], c.d[1]) if shard == 0 else (c.d[1], c.d[0])
        user, friend = sh.user(shard, "kick"), sh.user(1 - shard, "friend")
        fr, _ = await ws_connect(first, friend)
        old, _ = await ws_connect(first, user)
        await delivered(fr, friend, old, user, f"to-old-{user}", f"({label(sh, first, user)})")
        new, _ = await ws_connect(second, user)
        code = await wait_closed(old)
        assert code == 4001, f"{label(sh, first, user)}: closed with {code}, not 4001, after " \
                             f"the login on {who(second)}"
        await delivered(fr, friend, new, user, f"to-new-{user}", f"({label(sh, second, user)})")
        await delivered(new, user, fr, friend, f"from-new-{user}", f"({label(sh, second, user)})")


async def s_send_cli(c):
    """zwsd-send --broker PUB;PUB publishes to the topic's shard: a push to a
    user of each shard arrives, however the list is spelt (PUB;PUB, the
    daemons' PUB,SUB;PUB,SUB, the other order), and so does one to a group of
    each shard. A malformed list is refused (exit 2, one line that
    says why) and sends nothing (a pair of a broker with itself, three in a
    shard: malformed_lists)."""
    sh = c.sh
    u0, u1 = sh.user(0, "push"), sh.user(1, "push")
    (w0, _), = await connect(c.d[1], [u0])
    (w1, _), = await connect(c.d[0], [u1])
    targets = [(w0, u0), (w1, u1)]
    where = {u0: label(sh, c.d[1], u0), u1: label(sh, c.d[0], u1)}
    spellings = [sh.pubs, sh.spec, ";".join(reversed(sh.pub_list))]
    n = 0
    for ws, u in targets:
        for spec in spellings:
            n += 1
            p = await c.send("--broker", spec, "--to", u, "--msg", json.dumps({"n": n}))
            assert p.returncode == 0 and re.fullmatch(r"\S+\n", p.stdout), \
                f"zwsd-send --broker {spec} --to {u}: exit {p.returncode} {p.stdout!r} {p.stderr}"
            await next_push(ws, u, "chat", {"n": n}, p.stdout.strip(),
                            f"({where[u]}; zwsd-send --broker {spec})", receiver=u)
    for shard in (0, 1):
        g = sh.group(shard, "pushed")
        for ws, u in targets:
            await join(ws, g, f"j-{g}", where[u])
        p = await c.send("--broker", sh.pubs, "--group", g, "--msg", json.dumps(g))
        assert p.returncode == 0, f"zwsd-send --group {g}: {p.stderr}"
        for ws, u in targets:
            await next_push(ws, u, "group", g, p.stdout.strip(), f"(group on shard {shard})",
                            group=g)
    a, b = sh.names
    for spec, word in malformed_lists(a, b):
        for target in (["--to", u0], ["--broadcast"]):
            await c.send_refused(spec, target, word)
    for ws, u in targets:                   # none of the refused ones arrived
        p = await c.send("--broker", sh.pubs, "--to", u, "--msg", '"after"')
        assert p.returncode == 0, p.stderr
        await next_push(ws, u, "chat", "after", p.stdout.strip(), "(after the refused lists)")


BASICS = {"chats": s_chats, "groups": s_groups, "broadcast": s_broadcast,
          "presence_and_api": s_presence, "online": s_online, "kick": s_kick,
          "zwsd_send": s_send_cli}


async def s_outage(c, victim, kill, restart):
    """The broker of shard `victim` is killed -9. At once, chats to its users
    are `unavailable` (from both daemons, whoever sends), while chats to the
    other shard's users stay `delivered` on both daemons (from users of
    either shard). Once every worker has noticed: its groups, joins, presence
    of its users and (if "b|" is there) broadcasts are `unavailable`; the
    other shard's groups, presence and `offline` go on, while the cluster's
    online count (every shard is asked, the users summed) is refused, 503
    unavailable, not partial. The broker comes back on the same ports:
    without any client reconnecting, chats to its users are delivered again
    (never a false `offline` meanwhile), its group reaches every member again
    (the joins were replayed), presence merges again, the online count is
    right again."""
    sh, (d1, d2) = c.sh, c.d
    live = 1 - victim
    vname = sh.names[victim]
    a1, b1 = sh.user(live, "live"), sh.user(victim, "dead")
    a2, b2 = sh.user(live, "live"), sh.user(victim, "dead")
    S, where = {}, {}
    for d, users in ((d1, [a1, b1]), (d2, [a2, b2])):
        for (ws, _), u in zip(await connect(d, users), users):
            S[u], where[u] = ws, label(sh, d, u)
    gl, gv = sh.group(live, "room"), sh.group(victim, "room")
    for u, ws in S.items():
        await join(ws, gl, "jl", where[u])
        await join(ws, gv, "jv", where[u])

    def others(su):
        return [(ws, u) for u, ws in S.items() if u != su]

    for su, ru in ((a1, b2), (b2, a1), (b1, a2), (a2, b1)):     # every route proven
        await delivered(S[su], su, S[ru], ru, f"warm-{su}-{ru}", f"({where[su]} -> {where[ru]})")
    marks = [d.mark() for d in c.d]
    await asyncio.to_thread(kill)

    dead = f"after kill -9 of the broker of shard {vname}"
    for su, ru in ((a1, b2), (a2, b1), (b1, b2), (a1, b1)):
        await unavailable(S[su], json.loads(chat(ru, "lost", id=f"lost-{su}-{ru}")),
                          f"chat {where[su]} -> {where[ru]} {dead} (is shard_of() the "
                          f"daemon's? delivered means {ru} is not on {vname})")
    for su, ru in ((a1, a2), (a2, a1), (b1, a2), (b2, a1)):
        await delivered(S[su], su, S[ru], ru, f"live-{su}-{ru}",
                        f"({where[su]} -> {where[ru]}, {dead})")
    # back to back: the dead shard's chat does not swallow the live one's
    await S[a1].send(chat(b2, "x", id="mix-dead"))
    await S[a1].send(chat(a2, "mix", id="mix-live"))
    mid = check_chat(await recv_json(S[a2]), a1, a2, "mix")
    got = {}
    for _ in range(2):
        f = await recv_json(S[a1])
        got[f.get("id")] = f
    assert got.get("mix-live") == {"type": "ack", "id": "mix-live", "mid": mid,
                                   "status": "delivered"}, f"{dead}: {got}"
    assert got.get("mix-dead", {}).get("code") == "unavailable", f"{dead}: {got}"

    # every worker of both daemons has noticed (its log says so)
    for d, m in zip(c.d, marks):
        await await_workers(d, rf"broker not answering for \d+ ms \({re.escape(vname)}\)", m)
    await unavailable(S[a2], json.loads(chat(b1, "lost", id="lost-again")), f"chat to {b1} {dead}")
    await unavailable(S[a1], {"type": "group", "group": gv, "msg": "lost", "id": "gv-lost"},
                      f"group {gv} (shard {vname}) {dead}")
    late = sh.group(victim, "late")
    # (a join's `unavailable` may take up to 5 s: zwsd-protocol(7))
    f = await ask(S[a2], {"type": "join", "group": late, "id": "join-late"}, f"join {late}",
                  timeout=2 * WAIT)
    assert f.get("type") == "error" and f.get("code") == "unavailable", \
        f"join {late} (shard {vname}) {dead}: {f}"
    await group_everywhere(S[b1], b1, others(b1), gl, "gl-during",
                           f"(group of the live shard, from {where[b1]}, {dead})")
    await unavailable(S[a1], {"type": "presence", "users": [a2, b2], "id": "pr-dead"},
                      f"presence of {b2} {dead}")
    nl, nv = sh.user(live, "nobody"), sh.user(victim, "nobody")
    for su in (a1, b2):
        f = await ask(S[su], {"type": "presence", "users": [a1, a2, nl], "id": "pr-live"},
                      f"presence of live-shard users from {where[su]}")
        assert f == {"type": "presence", "id": "pr-live",
                     "online": {a1: True, a2: True, nl: False}}, f"{where[su]} {dead}: {f}"
    await chat_offline(S[b2], nl, "off-live")
    await unavailable(S[a1], json.loads(chat(nv, "x", id="off-dead")), f"chat to {nv} {dead}")
    if sh.of("b|") == victim:
        await unavailable(S[b1], {"type": "broadcast", "msg": "bc", "id": "bc-dead"},
                          f"broadcast (\"b|\" is on {vname}) {dead}")
    else:
        await send_json(S[b1], {"type": "broadcast", "msg": "bc", "id": "bc-live"})
        own = [await recv_json(S[b1]), await recv_json(S[b1])]
        assert sorted(f.get("type") for f in own) == ["ack", "broadcast"], \
            f"broadcast (\"b|\" on the live shard) {dead}: {own}"
        for ws, u in others(b1):
            f = await recv_json(ws)
            assert f.get("type") == "broadcast" and f.get("msg") == "bc", f"{where[u]} {dead}: {f}"
    for d in c.d:                           # every shard is asked: no partial count
        status, got = await aapi(d, "GET", "/api/v1/online")
        assert status == 503 and isinstance(got, dict) and got.get("error") == "unavailable", \
            f"{who(d)} GET /api/v1/online {dead}: {status} {got} (expected 503 unavailable: " \
            f"the users of shard {vname} cannot be counted)"

    marks = [d.mark() for d in c.d]
    await asyncio.to_thread(restart)
    back = f"after the broker of shard {vname} came back (no client reconnected)"
    for su, ru in ((a1, b2), (a2, b1), (b1, b2), (b2, b1)):
        answers = await until_delivered(S[su], su, S[ru], ru, f"back-{su}",
                                        what=f"({where[ru]}, {back})")
        print(f"{su} -> {ru} {back}: answers before delivered: {answers}")
    for d, m in zip(c.d, marks):
        await await_workers(d, r"\]: every shard reachable", m)
    await group_everywhere(S[a1], a1, others(a1), gv, "gv-back-1",
                           f"(group of shard {vname} from {where[a1]}, {back})")
    await group_everywhere(S[b2], b2, others(b2), gv, "gv-back-2",
                           f"(group of shard {vname} from {where[b2]}, {back})")
    await group_everywhere(S[a2], a2, others(a2), gl, "gl-back", f"(live shard's group, {back})")
    f = await ask(S[a1], {"type": "presence", "users": [a2, b2, nv, nl], "id": "pr-back"},
                  f"presence {back}")
    assert f == {"type": "presence", "id": "pr-back",
                 "online": {a2: True, b2: True, nv: False, nl: False}}, f"{back}: {f}"
    await chat_offline(S[a2], nv, "off-back")
    for d in c.d:
        await wait_online_cluster(d, 4, 4, sh)
    for u, ws in S.items():
        assert ws.open, f"{where[u]}: the connection did not survive"


async def s_link_cut(c):
    """Daemon host a's link is cut (its veth down), until each of its workers
    has lost both shards; meanwhile a chat from host b to a user on host a is
    not delivered (`offline` or `unavailable`, whatever the cluster can
    tell). The link comes back: without any client reconnecting, chats
    between the hosts, users of both shards, are delivered again, and nothing
    answered otherwise arrives; groups of both shards reach both hosts."""
    sh, (da, db) = c.sh, c.d
    S, where = {}, {}
    x0, x1, y0, y1 = sh.user(0, "ona"), sh.user(1, "ona"), sh.user(0, "onb"), sh.user(1, "onb")
    for d, users in ((da, [x0, x1]), (db, [y0, y1])):
        for (ws, _), u in zip(await connect(d, users), users):
            S[u], where[u] = ws, label(sh, d, u)
    groups = [sh.group(0, "cut"), sh.group(1, "cut")]
    for u, ws in S.items():
        for g in groups:
            await join(ws, g, f"j-{g}", where[u])
    pairs = ((y0, x0), (y1, x1), (x0, y1), (x1, y0))
    for su, ru in pairs:
        await delivered(S[su], su, S[ru], ru, f"warm-{su}", f"({where[su]} -> {where[ru]})")
    mark = da.mark()
    netns.link_down(c.net, "a")
    try:
        for name in sh.names:
            await await_workers(da, rf"broker not answering for \d+ ms \({re.escape(name)}\)",
                                mark, timeout=15)
        for r in (x0, x1):
            f = await ask(S[y0], json.loads(chat(r, "cut", id=f"cut-{r}")),
                          f"chat to {where[r]} while host a is cut off")
            print(f"{y0} -> {r} while host a is cut off: {f}")
            assert (f.get("type") == "ack" and f.get("status") == "offline") \
                or (f.get("type") == "error" and f.get("code") == "unavailable"), \
                f"chat to {where[r]} while host a is cut off: {f}"
    finally:
        netns.link_up(c.net, "a")
    mark = da.mark()
    back = "after host a's link came back"
    for su, ru in pairs:
        answers = await until_delivered(S[su], su, S[ru], ru, f"back-{su}", limit=20,
                                        allow=("unavailable", "offline"),
                                        what=f"({where[su]} -> {where[ru]}, {back})")
        print(f"{su} -> {ru} {back}: answers before delivered: {answers}")
    await await_workers(da, r"\]: every shard reachable", mark, timeout=15)
    for g in groups:
        for su in (x0, y1):
            await group_everywhere(S[su], su, [(ws, u) for u, ws in S.items() if u != su], g,
                                   f"{g}-{su}", f"(group on shard {sh.names[sh.of(f'g:{g}|')]}, "
                                   f"from {where[su]}, {back})")
    f = await ask(S[y0], {"type": "presence", "users": [x0, x1, y1], "id": "pr"},
                  f"presence {back}")
    assert f == {"type": "presence", "id": "pr", "online": {x0: True, x1: True, y1: True}}, f
    for u, ws in S.items():
        assert ws.open, f"{where[u]}: the connection did not survive the cut"


# --------------------------------------------------------------------------
# pairs: one shard of two brokers, steady traffic, kill -9 of one of them

class Tap:
    """Reads every frame of a session into .frames, in a task of its own
    (so nothing else may read that session while it runs)."""

    def __init__(self, ws, user, where):
        self.ws, self.user, self.where = ws, user, where
        self.frames = []
        self.times = []                     # time.monotonic() of each frame's arrival
        self.closed = None
        self._new = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        try:
            while True:
                msg = await self.ws.recv()
                self.frames.append(json.loads(msg))
                self.times.append(time.monotonic())
                self._new.set()
        except websockets.ConnectionClosed as e:
            self.closed = e
            self._new.set()

    async def until(self, pred, what, timeout=WAIT):
        """Wait until pred(self.frames) holds (checked after every frame)."""
        deadline = time.monotonic() + timeout
        while not pred(self.frames):
            assert self.closed is None, f"{self.where} {what}: connection closed: {self.closed}"
            left = deadline - time.monotonic()
            assert left > 0, f"{self.where} {what}: not within {timeout} s; last frames " \
                             f"{self.frames[-5:]}"
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def ask(self, obj, what, timeout=WAIT):
        """Send obj (with its "id"); the frame answering it."""
        n = len(self.frames)
        await send_json(self.ws, obj)
        await self.until(lambda fs: any(f.get("id") == obj["id"] for f in fs[n:]), what, timeout)
        return next(f for f in self.frames[n:] if f.get("id") == obj["id"])

    async def stop(self):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def answer_kind(f):
    """An answer's status (ack) or code (error)."""
    return f.get("status") if f.get("type") == "ack" else f"error:{f.get('code')}"


async def pair_stream(c, taps, sender, rcpt, gsender, group, tag, n, at, action, settle,
                      tail=300, limit=6000, pace=0.004, gevery=8):
    """Steady traffic: chats with ids from sender to rcpt (msg {"t": tag, "i":
    i}, one every `pace` s), and every gevery-th turn a group message with an
    id from gsender to group (msg {"t": tag, "g": i}). At chat `at`, action()
    runs (in a thread: kill -9 or a restart of a broker) and then settle() (a
    coroutine: the daemons' logs saying they noticed) is awaited alongside;
    the stream goes on until settle() is done and `tail` more chats have
    gone, and at least n in all. Then every answer is awaited, a marker chat
    and a marker group message close each stream, and what arrived is
    counted: returns a dict of counts, and the list of problems."""
    s, r, gs = taps[sender], taps[rcpt], taps[gsender]
    members = list(taps.values())
    cids, gids = [], []
    sent_at = {}
    t0 = c.d[0]._t0                         # the first daemon's log clock

    def clock(t):
        return f"{t - t0:.3f}"
    settling, stop_at = None, None
    i = 0
    while i < n or stop_at is None or i < stop_at:
        assert i < limit, f"{tag}: the daemons' logs did not settle within {limit} chats"
        cid = f"{tag}-c{i}"
        await s.ws.send(chat(rcpt, {"t": tag, "i": i}, id=cid))
        sent_at[cid] = time.monotonic()
        cids.append(cid)
        if i % gevery == 0:
            gid = f"{tag}-g{i}"
            await gs.ws.send(json.dumps({"type": "group", "group": group,
                                         "msg": {"t": tag, "g": i}, "id": gid}))
            gids.append((gid, i))
        if i == at:
            t_act = time.monotonic()
            await asyncio.to_thread(action)
            print(f"{tag}: {getattr(action, '__name__', action)} from {clock(t_act)} to "
                  f"{clock(time.monotonic())} (log clock of {who(c.d[0])}), at chat {i}")
            settling = asyncio.create_task(settle())
        if settling is not None and stop_at is None and settling.done():
            settling.result()               # its failure is the test's
            stop_at = i + tail
        i += 1
        await asyncio.sleep(pace)
    # every chat and group message answered
    want_c, want_g = set(cids), {g for g, _ in gids}
    await s.until(lambda fs: want_c <= {f.get("id") for f in fs},
                  f"{tag}: answers to {len(cids)} chats", timeout=20)
    await gs.until(lambda fs: want_g <= {f.get("id") for f in fs},
                   f"{tag}: answers to {len(gids)} group messages", timeout=20)
    # markers: the last of each stream (a chat from the same session to the
    # same receiver, a group message from the same member)
    f = await s.ask(json.loads(chat(rcpt, {"t": tag, "end": 1}, id=f"{tag}-end")),
                    f"{tag}: the marker chat")
    assert f.get("type") == "ack" and f.get("status") == "delivered", \
        f"{tag}: the marker chat to {rcpt}: {f}"
    await r.until(lambda fs: any(x.get("type") == "chat" and x.get("msg") == {"t": tag, "end": 1}
                                 for x in fs), f"{tag}: the marker chat")
    f = await gs.ask({"type": "group", "group": group, "msg": {"t": tag, "end": 1},
                      "id": f"{tag}-gend"}, f"{tag}: the marker group message")
    assert f.get("type") == "ack" and f.get("status") == "sent", f"{tag}: group marker: {f}"
    for m in members:
        await m.until(lambda fs: any(x.get("type") == "group"
                                     and x.get("msg") == {"t": tag, "end": 1} for x in fs),
                      f"{tag}: the marker group message")

    problems = []
    ans = {f["id"]: f for f in s.frames if f.get("id") in want_c}
    ans_at = {f["id"]: t for f, t in zip(s.frames, s.times) if f.get("id") in want_c}
    got_at = {}
    acks = collections.Counter(answer_kind(ans[cid]) for cid in cids)
    got = collections.defaultdict(list)          # i -> [frames]
    order = []
    for x in r.frames:
        if x.get("type") == "chat" and isinstance(x.get("msg"), dict) \
                and x["msg"].get("t") == tag and "i" in x["msg"]:
            got[x["msg"]["i"]].append(x)
            order.append(x["msg"]["i"])
    for x, t in zip(r.frames, r.times):
        if x.get("type") == "chat" and isinstance(x.get("msg"), dict) and x["msg"].get("t") == tag:
            got_at.setdefault(x["msg"].get("i"), t)
    dups = {i: len(v) for i, v in got.items() if len(v) > 1}
    mids = collections.Counter(x["mid"] for v in got.values() for x in v)
    dup_mids = [m for m, k in mids.items() if k > 1]
    lost, wrong, stray = [], [], []
    for i, cid in enumerate(cids):
        a = ans[cid]
        if a.get("type") == "ack" and a.get("status") == "delivered":
            if not got.get(i):
                lost.append(i)
            elif got[i][0].get("mid") != a.get("mid"):
                wrong.append((i, a.get("mid"), got[i][0].get("mid")))
        elif got.get(i):
            stray.append((i, answer_kind(a), f"sent at {clock(sent_at[cid])}, received at "
                          f"{clock(got_at[i])} (mid {got[i][0].get('mid')}), answered at "
                          f"{clock(ans_at[cid])}: {a}"))
    inversions = sum(1 for x, y in zip(order, order[1:]) if y < x)
    epochs = collections.Counter(x.get("epoch") for v in got.values() for x in v)
    if dups:
        problems.append(f"chats received more than once (i: times): {dict(list(dups.items())[:10])}")
    if dup_mids:
        problems.append(f"a mid received more than once: {dup_mids[:5]}")
    if lost:
        problems.append(f"{len(lost)} chats acked `delivered` never reached {rcpt}: {lost[:20]}")
    if wrong:
        problems.append(f"ack mid differs from the received one (i, ack, received): {wrong[:5]}")
    if stray:
        problems.append(
            f"chats not acked `delivered` did reach {rcpt} (i, answer): {stray[:10]} (an "
            f"`unavailable` must mean not sent, zwsd-protocol(7); seen when a broker of the pair "
            f"had just (re)started: in its warm-up it answers a chat to a user whose "
            f"subscription it has not learnt yet with an `unavailable` receipt (broker.c "
            f"s_offline), the daemon takes receipts from either broker of a pair (bus.c "
            f"s_on_link) and answers the client with it, while the other broker delivers)")
    unavail = [(i, f"sent at {clock(sent_at[cid])}, answered at {clock(ans_at[cid])}")
               for i, cid in enumerate(cids) if answer_kind(ans[cid]) == "error:unavailable"]
    if unavail:
        print(f"{tag}: chats answered unavailable (all log clock of {who(c.d[0])}): "
              f"{unavail[:20]}")
    bad = {k: v for k, v in acks.items() if k not in ("delivered", "error:unavailable")}
    if bad:
        ex = [(cid, ans[cid]) for cid in cids if answer_kind(ans[cid]) in bad][:5]
        problems.append(f"chat answers other than delivered/unavailable: {bad}, e.g. {ex}")

    gans = {f["id"]: f for f in gs.frames if f.get("id") in want_g}
    gacks = collections.Counter(answer_kind(gans[gid]) for gid, _ in gids)
    sent_g = {k for gid, k in gids if answer_kind(gans[gid]) == "sent"}
    gstat = {}
    for m in members:
        seen = collections.Counter(x["msg"]["g"] for x in m.frames
                                   if x.get("type") == "group" and isinstance(x.get("msg"), dict)
                                   and x["msg"].get("t") == tag and "g" in x["msg"])
        gdup = {k: v for k, v in seen.items() if v > 1}
        glost = sorted(sent_g - set(seen))
        gstray = sorted(set(seen) - sent_g)
        gstat[m.user] = (sum(seen.values()), len(gdup), len(glost))
        if gdup:
            problems.append(f"{m.where}: group messages received more than once: "
                            f"{dict(list(gdup.items())[:10])}")
        if glost:
            problems.append(f"{m.where}: {len(glost)} group messages acked `sent` never "
                            f"arrived: {glost[:20]}")
        if gstray:
            problems.append(f"{m.where}: group messages not acked `sent` arrived: {gstray[:10]}")
    if set(gacks) - {"sent", "error:unavailable"}:
        problems.append(f"group answers other than sent/unavailable: {dict(gacks)}")
    counts = {"sent": len(cids), "acks": dict(acks), "received": sum(len(v) for v in got.values()),
              "distinct": len(got), "duplicates": sum(v - 1 for v in dups.values()),
              "lost": len(lost), "stray": len(stray), "out_of_order": inversions,
              "epochs": dict(epochs), "group_sent": len(gids), "group_acks": dict(gacks),
              "group_per_member": gstat}
    return counts, problems


def report(label, k):
    gm = ", ".join(f"{u}: got {n} dup {d} lost {l}" for u, (n, d, l) in
                   k["group_per_member"].items())
    line = (f"{label}: sent {k['sent']}, acks {k['acks']}, received {k['received']} "
            f"({k['distinct']} distinct), duplicates {k['duplicates']}, lost {k['lost']}, "
            f"received though not delivered {k['stray']}, out of order {k['out_of_order']}, "
            f"epochs seen {k['epochs']}; group: sent {k['group_sent']}, acks {k['group_acks']}, "
            f"per member [{gm}]")
    print(line)
    return line


async def s_pair_failover(c, victim):
    """The cluster's one shard is a pair (P primary, S backup), users on both
    daemons in a group. Phase 1: alice (daemon 1) chats with ids to bob
    (daemon 2) every few ms and dave (daemon 2) posts to the group, and the
    pair's broker `victim` (0: P, 1: S) is killed -9 mid-stream; the stream
    goes on until every worker has noticed (P: `shard P: backup S active`;
    S: `broker not answering ... (S)`) and a while after. Every chat acked
    `delivered` reached bob exactly once, none acked otherwise did, no ack
    is `offline` (and any `unavailable` is counted); every group message
    acked `sent` reached every member exactly once. With P dead, bob sees
    the backup's epoch. Presence and the online count still answer (the
    shard is up). Phase 2: the killed broker starts again on the same ports
    mid-stream; the stream goes on until every worker has it back (P:
    `shard P: primary P active`; S: `broker reachable (S)`) and a while
    after: exactly once again. No client reconnects."""
    sh, (d1, d2) = c.sh, c.d
    pair = sh.brokers[0]
    b = (pair.primary, pair.backup)[victim]
    P, S_ = pair.primary.endpoints[0], pair.backup.endpoints[0]
    vname = b.endpoints[0]
    role = ("primary", "backup")[victim]
    alice, carol, bob, dave = (sh.user(0, n) for n in ("alice", "carol", "bob", "dave"))
    S, where = {}, {}
    for d, users in ((d1, [alice, carol]), (d2, [bob, dave])):
        for (ws, _), u in zip(await connect(d, users), users):
            S[u], where[u] = ws, f"{u} (on {who(d)})"
    g = sh.group(0, "room")
    for u, ws in S.items():
        await join(ws, g, "j", where[u])
    await delivered(S[alice], alice, S[bob], bob, "warm", f"({where[alice]} -> {where[bob]})")
    await group_everywhere(S[dave], dave, [(ws, u) for u, ws in S.items() if u != dave], g,
                           "warm-g", "(before the kill)")
    taps = {u: Tap(ws, u, where[u]) for u, ws in S.items()}
    try:
        await taps[alice].ask(json.loads(chat(bob, "epoch?", id="epoch-before")),
                              "a chat before the kill")
        await taps[bob].until(lambda fs: any(f.get("msg") == "epoch?" for f in fs), "epoch?")
        epoch0 = next(f for f in taps[bob].frames if f.get("msg") == "epoch?").get("epoch")

        marks = [d.mark() for d in c.d]
        if victim == 0:
            noticed = rf"shard {re.escape(P)}: backup {re.escape(S_)} active"
        else:
            noticed = rf"broker not answering for \d+ ms \({re.escape(S_)}\)"

        async def settle_kill():
            for d, m in zip(c.d, marks):
                await await_workers(d, noticed, m, timeout=15)

        k1, p1 = await pair_stream(c, taps, alice, bob, dave, g, "kill", 1000, 500, b.kill,
                                   settle_kill)
        line = report(f"pair failover, kill -9 of the {role} {vname}", k1)
        assert not p1, f"kill -9 of the {role} {vname} during steady traffic: " \
                       + "; ".join(p1) + f" [{line}]"

        # the shard is up: questions are answered, by the active broker
        f = await taps[carol].ask({"type": "presence", "users": [alice, bob, dave, "nobody-x"],
                                   "id": "pr-dead"}, f"presence with the {role} dead")
        assert f == {"type": "presence", "id": "pr-dead",
                     "online": {alice: True, bob: True, dave: True, "nobody-x": False}}, \
            f"presence with the {role} {vname} dead: {f}"
        for d in c.d:
            await wait_online(d, 4, 4)
        f = await taps[alice].ask(json.loads(chat(bob, "epoch?2", id="epoch-after")),
                                  f"a chat with the {role} dead")
        assert answer_kind(f) == "delivered", f"chat with the {role} dead: {f}"
        await taps[bob].until(lambda fs: any(x.get("msg") == "epoch?2" for x in fs), "epoch?2")
        epoch1 = next(x for x in taps[bob].frames if x.get("msg") == "epoch?2").get("epoch")
        print(f"bob's stream epoch before the kill {epoch0!r}, with the {role} dead {epoch1!r}")
        if victim == 0:
            assert epoch1 != epoch0, \
                f"with the primary {P} dead, bob's chat carries epoch {epoch1!r}, the primary's " \
                f"(expected the backup's own epoch)"

        marks = [d.mark() for d in c.d]
        if victim == 0:
            back = rf"shard {re.escape(P)}: primary {re.escape(P)} active"
        else:
            back = rf"broker reachable \({re.escape(S_)}\)"

        async def settle_back():
            for d, m in zip(c.d, marks):
                await await_workers(d, back, m, timeout=20)

        k2, p2 = await pair_stream(c, taps, alice, bob, dave, g, "back", 400, 100, b.start,
                                   settle_back)
        line = report(f"pair, the {role} {vname} back on the same ports", k2)
        assert not p2, f"the {role} {vname} restarted during steady traffic: " \
                       + "; ".join(p2) + f" [{line}]"
        for u, t in taps.items():
            assert t.closed is None, f"{where[u]}: the connection did not survive: {t.closed}"
    finally:
        for t in taps.values():
            await t.stop()
    for d in c.d:
        await wait_online(d, 4, 4)


async def s_pair_send(c):
    """zwsd-send --broker 'P|S' (and the daemons' PUB,SUB|PUB,SUB spelling)
    publishes to both brokers of the pair: a push to bob and one to a group
    arrive exactly once (the daemons drop the second copy: a marker chat
    right behind each is the next frame). With P killed -9, and then (P
    back, every worker back on it) with S killed -9, it still delivers,
    once."""
    sh, (d1, d2) = c.sh, c.d
    pair = sh.brokers[0]
    P = pair.primary.endpoints[0]
    bob, carol = sh.user(0, "bob"), sh.user(0, "carol")
    (wb, _), = await connect(d2, [bob])
    (wc, _), = await connect(d1, [carol])
    g = sh.group(0, "pushed")
    for ws, u in ((wb, bob), (wc, carol)):
        await join(ws, g, "j", u)
    n = [0]

    async def once(what):
        for spec in (sh.pubs, sh.spec):
            n[0] += 1
            p = await c.send("--broker", spec, "--to", bob, "--msg", json.dumps({"n": n[0]}))
            assert p.returncode == 0 and re.fullmatch(r"\S+\n", p.stdout), \
                f"zwsd-send --broker {spec} --to {bob} {what}: exit {p.returncode} " \
                f"{p.stdout!r} {p.stderr!r}"
            await next_push(wb, bob, "chat", {"n": n[0]}, p.stdout.strip(),
                            f"(zwsd-send --broker {spec} {what})", receiver=bob)
            await delivered(wc, carol, wb, bob, f"marker-{n[0]}",
                            f"(right behind zwsd-send's push {n[0]} {what}: no second copy)")
            p = await c.send("--broker", spec, "--group", g, "--msg", json.dumps({"g": n[0]}))
            assert p.returncode == 0, f"zwsd-send --group {g} {what}: {p.stderr}"
            for ws, u in ((wb, bob), (wc, carol)):
                await next_push(ws, u, "group", {"g": n[0]}, p.stdout.strip(),
                                f"(zwsd-send --group, {what})", group=g)
            await group_everywhere(wc, carol, [(wb, bob)], g, f"gmark-{n[0]}",
                                   f"(right behind zwsd-send's group push {what}: no second copy)")
        print(f"zwsd-send to the pair {what}: {n[0]} pushes so far, each delivered once")

    await once("(both brokers up)")
    marks = [d.mark() for d in c.d]
    pair.primary.kill()
    await once("(the primary killed -9)")
    for d, m in zip(c.d, marks):
        await await_workers(d, rf"shard {re.escape(P)}: backup ", m, timeout=15)
    await once("(the primary dead, the backup active)")
    marks = [d.mark() for d in c.d]
    await asyncio.to_thread(pair.primary.start)
    for d, m in zip(c.d, marks):
        await await_workers(d, rf"shard {re.escape(P)}: primary {re.escape(P)} active", m,
                            timeout=20)
    await once("(the primary back)")
    pair.backup.kill()
    await once("(the backup killed -9)")


# --------------------------------------------------------------------------
# loopback: two ExtBrokers, two daemons

@pytest.mark.parametrize("scenario", list(BASICS))
def test_two_shards_loopback(brokers, make_daemon, scenario):
    c = loopback_cluster(make_daemon, brokers)
    run(BASICS[scenario](c), timeout=90)


def test_shard_outage_loopback(brokers, make_daemon):
    """kill -9 of shard B's broker (listed second), then the same ports again."""
    c = loopback_cluster(make_daemon, brokers)
    b = brokers.brokers[1]
    run(s_outage(c, 1, b.kill, b.start), timeout=120)


def zwsd_refuses(tmp_path, cases):
    """zwsd --broker VALUE exits 2 with one line naming --broker and saying
    why, and starts nothing (test_30's checks), for each (VALUE, word)."""
    port = free_port()
    rtdir = str(tmp_path / "run")
    base = ["--listen", f"127.0.0.1:{port}", "--runtime-dir", rtdir, "--api-listen", "off"]
    for spec, word in cases:
        args = base + ["--broker", spec]
        assert_usage_error(args, "--broker", port, rtdir)
        rc, out, err, left = run_zwsd(args)
        assert word in err[0].lower(), f"--broker {spec!r}: {err[0]!r} does not say {word!r}"


A_SUB, B_SUB = "tcp://127.0.0.1:1,tcp://127.0.0.1:2", "tcp://127.0.0.1:3,tcp://127.0.0.1:4"


def test_zwsd_refuses_malformed_shard_lists(tmp_path):
    zwsd_refuses(tmp_path, malformed_lists(A_SUB, B_SUB, sub=True))


C_SUB = "tcp://127.0.0.1:5,tcp://127.0.0.1:6"


def test_zwsd_refuses_malformed_pairs(tmp_path):
    """Pairs are taken (PUB,SUB|PUB,SUB), but not three brokers in a shard, a
    broker paired with itself (in any shard of the list), a pair's primary
    that names another shard, a backup without its SUB endpoint."""
    zwsd_refuses(tmp_path, [(f"{A_SUB};{B_SUB}|{B_SUB}", "itself"),
                            (f"{A_SUB}|{B_SUB};{C_SUB}|{B_SUB}|{A_SUB}", "not more"),
                            (f"{A_SUB}|{B_SUB};{A_SUB}|{C_SUB}", "twice"),
                            (f"{A_SUB}|tcp://127.0.0.1:9", "sub")])


def test_zwsd_send_refuses_malformed_pairs():
    """zwsd-send takes PUB|PUB, but not three in a shard nor a broker paired
    with itself: exit 2, one line."""
    a, b, x = "tcp://127.0.0.1:1", "tcp://127.0.0.1:3", "tcp://127.0.0.1:5"
    for spec, word in ((f"{a}|{b}|{x}", "not more"), (f"{a}|{a}", "itself"),
                       (f"{a};{b}|{b}", "itself"), (f"{a}|{b};{a}", "twice")):
        for target in (["--to", "bob"], ["--broadcast"]):
            check_send_refused(local_send(["--broker", spec, *target, "--msg", '"refused"']),
                               spec, target, word)


def pair_brokers(request, names):
    return [ExtBroker(os.path.join(LOGDIR, f"{safe_name(request)}.broker{n}.log")) for n in names]


@pytest.fixture
def pair(request):
    """One shard that is a pair: zwsd-brokers P (primary) and S (backup) on
    tcp://127.0.0.1; before make_daemon in a test's arguments."""
    bs = pair_brokers(request, "PS")
    try:
        for b in bs:
            b.start()
        yield Shards([Pair(bs[0], bs[1])])
    finally:
        for b in bs:
            b.kill()


@pytest.fixture
def pair_and_single(request):
    """Two shards: the pair P|S (listed first) and the single broker C."""
    bs = pair_brokers(request, "PSC")
    try:
        for b in bs:
            b.start()
        yield Shards([Pair(bs[0], bs[1]), bs[2]])
    finally:
        for b in bs:
            b.kill()


@pytest.mark.parametrize("victim", ["primary", "backup"])
def test_pair_failover_loopback(pair, make_daemon, victim):
    """kill -9 of the pair's primary (or backup) during steady traffic, then
    the same ports again: exactly once throughout (s_pair_failover)."""
    c = loopback_cluster(make_daemon, pair)
    run(s_pair_failover(c, ["primary", "backup"].index(victim)), timeout=240)


def test_zwsd_send_to_pair_loopback(pair, make_daemon):
    c = loopback_cluster(make_daemon, pair)
    run(s_pair_send(c), timeout=120)


@pytest.mark.parametrize("scenario", list(BASICS))
def test_pair_and_single_loopback(pair_and_single, make_daemon, scenario):
    """A pair and a single broker as the two shards: the basics hold."""
    c = loopback_cluster(make_daemon, pair_and_single)
    run(BASICS[scenario](c), timeout=90)


# --------------------------------------------------------------------------
# hosts: broker1, broker2, a, b (network namespaces; root)

_nets = [0]


@contextlib.contextmanager
def hosts_cluster(logbase, pair=False):
    """Hosts broker1, broker2 (a shard each), a (2 workers) and b (1); or,
    with pair, hosts p and s (one shard: the pair p|s), a and b (2 workers
    each)."""
    why = netns.available()
    if why:
        pytest.skip(f"network namespaces unavailable here: {why}")
    bhosts = ("p", "s") if pair else ("broker1", "broker2")
    net = netns.Net([*bhosts, "a", "b"])
    # the module's network and a test's own exist at once: names of their own
    _nets[0] += 1
    net.tag += chr(ord("a") + _nets[0] % 26)
    net.bridge = f"{net.tag}br"
    with net:
        daemons, bs = [], []
        try:
            for h in bhosts:
                bs.append(netns.NsBroker(net[h], f"{logbase}.{h}.log"))
                bs[-1].start()
            sh = Shards([Pair(*bs)] if pair else bs)
            for h, workers in (("a", 2), ("b", 2 if pair else 1)):
                daemons.append(netns.NsDaemon(net[h], ["--broker", sh.spec,
                                                       "--allow-client-broadcast"],
                                              workers=workers, log_path=f"{logbase}.zwsd-{h}.log"))
                daemons[-1].start()
            yield Cluster(daemons, sh,
                          lambda args: net["b"].run([ZWSD_SEND, *args], timeout=20), net=net)
        finally:
            problems = []
            for d in daemons:                   # the daemons before their network
                problems += d.cleanup()
            for b in bs:
                b.kill()
            assert not problems, "; ".join(problems)


@pytest.fixture(scope="module")
def _hosts(request):
    with hosts_cluster(os.path.join(LOGDIR, safe_name(request))) as c:
        yield c


@pytest.fixture
def hosts(_hosts, request):
    """The module's hosts cluster, for tests that leave it as they found it."""
    request.node._zwsd_daemons = _hosts.d
    for d in _hosts.d:
        if not d.running():
            pytest.fail(f"the hosts cluster's daemon on {who(d)} is gone (an earlier test?)")
    return _hosts


@pytest.fixture
def own_hosts(request):
    """A hosts cluster of this test's own (it kills a broker or cuts a link)."""
    with hosts_cluster(os.path.join(LOGDIR, safe_name(request))) as c:
        request.node._zwsd_daemons = c.d
        yield c


@pytest.mark.parametrize("scenario", list(BASICS))
def test_two_shards_hosts(hosts, scenario):
    run(BASICS[scenario](hosts), timeout=90)


def test_shard_outage_hosts(own_hosts):
    """kill -9 of the broker on host broker1 (the shard listed first), then
    the same ports again."""
    b = own_hosts.sh.brokers[0]
    run(s_outage(own_hosts, 0, b.kill, b.start), timeout=120)


def test_daemon_host_link_cut_and_restored(own_hosts):
    run(s_link_cut(own_hosts), timeout=120)


@pytest.fixture
def pair_hosts(request):
    """Hosts p and s (the pair p|s, the only shard), a and b (daemons)."""
    with hosts_cluster(os.path.join(LOGDIR, safe_name(request)), pair=True) as c:
        request.node._zwsd_daemons = c.d
        yield c


def test_pair_failover_hosts(pair_hosts):
    """kill -9 of the primary on host p during steady traffic from host a to
    host b, then the same ports again: exactly once throughout."""
    run(s_pair_failover(pair_hosts, 0), timeout=240)
