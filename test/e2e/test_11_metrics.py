"""11 — GET /metrics: Prometheus text exposition format 0.0.4, host-wide
numbers whichever worker answers, counters that move by exactly what a test
did.

parse_metrics() is deliberately strict: every line is a HELP, a TYPE or a
sample; names and labels are well formed; every sample belongs to a family
announced by HELP and TYPE before it, families are contiguous, no sample
repeats. Deltas are read on a fresh daemon, before and after the actions."""
import asyncio
import json
import math
import re
import socket

from conftest import WAIT, chat, connect_on_distinct_workers, raw_http, recv_json, run, \
    upgrade_request, ws_connect
from test_10_api import aapi, api_call, api_port, check_pushed, join, start_api_daemon

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL}={LABEL_VALUE})(?:,{LABEL}={LABEL_VALUE})*)?\}})?"
                    r" (\S+)(?: (-?\d+))?$")
PAIR = re.compile(rf"({LABEL})=({LABEL_VALUE})")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_metrics(text):
    """{(name, frozenset(labels.items())): float}, after checking the format."""
    assert text.endswith("\n"), "exposition must end with a newline"
    helps, types, samples = {}, {}, {}
    done = set()        # families whose samples are over
    sampled = set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        assert line, f"{where}: empty line"
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.+)$", line)
            assert m, f"{where}: comment is not HELP or TYPE"
            kind, name, rest = m.groups()
            if current != name:
                if current:
                    done.add(current)
                assert name not in done, f"{where}: family announced again"
                current = name
            assert name not in sampled, f"{where}: {kind} after the family's samples"
            if kind == "HELP":
                assert name not in helps, f"{where}: second HELP"
                helps[name] = rest
            else:
                assert name not in types, f"{where}: second TYPE"
                assert rest in TYPES, f"{where}: unknown type"
                types[name] = rest
            continue
        m = SAMPLE.match(line)
        assert m, f"{where}: not a sample line"
        name, labels, value, _ts = m.groups()
        assert name in helps and name in types, f"{where}: no HELP/TYPE for {name}"
        assert name == current and name not in done, f"{where}: family {name} not contiguous"
        pairs = PAIR.findall(labels or "")
        keys = [k for k, _ in pairs]
        assert len(set(keys)) == len(keys), f"{where}: repeated label"
        v = float(value)        # also accepts NaN/+Inf as the format does
        if types[name] in ("counter", "gauge"):
            assert not math.isnan(v), where
        if types[name] == "counter":
            assert v >= 0, f"{where}: negative counter"
        key = (name, frozenset((k, json.loads(val)) for k, val in pairs))
        assert key not in samples, f"{where}: sample repeated"
        samples[key] = v
        sampled.add(name)
    for name in set(helps) | set(types):
        assert name in helps and name in types, f"{name}: HELP without TYPE or the reverse"
        assert any(k[0] == name for k in samples), f"{name}: family without samples"
    return samples


def scrape(port):
    r = api_call(port, "GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("content-type") == "text/plain; version=0.0.4", r.headers
    return parse_metrics(r.body.decode("utf-8"))


def val(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


def delta(before, after, name, **labels):
    return val(after, name, **labels) - val(before, name, **labels)


EXPECTED = [
    ("zwsd_connections", {}), ("zwsd_sessions", {}),
    ("zwsd_handshakes_total", {"result": "accepted"}),
    *[("zwsd_handshakes_total", {"result": "refused", "status": s})
      for s in ("400", "401", "403", "404", "426", "431", "503")],
    ("zwsd_frames_total", {"direction": "in"}), ("zwsd_frames_total", {"direction": "out"}),
    *[("zwsd_messages_routed_total", {"kind": k}) for k in ("chat", "group", "broadcast")],
    *[("zwsd_acks_total", {"status": s})
      for s in ("delivered", "offline", "sent", "unavailable", "joined", "left")],
    *[("zwsd_errors_total", {"code": c})
      for c in ("bad_json", "bad_request", "unknown_type", "not_member", "forbidden", "too_many",
                "rate_limited", "unsupported", "unavailable")],
    ("zwsd_slow_consumer_closes_total", {}), ("zwsd_rate_limit_closes_total", {}),
    ("zwsd_sessions_replaced_total", {}), ("zwsd_worker_restarts_total", {}),
    ("zwsd_broker_restarts_total", {}), ("zwsd_broker_up", {}), ("zwsd_outbound_bytes", {}),
    ("zwsd_worker_connections", {"worker": "0"}), ("zwsd_worker_connections", {"worker": "1"}),
]


def test_parser_rejects_what_it_must():
    """The strict parser itself can fail (a check that cannot fail proves
    nothing)."""
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 1\n"
    parse_metrics(good)
    for bad in (good[:-1],                                          # no final newline
                good.replace("# HELP a_total x\n", ""),              # no HELP
                good.replace("# TYPE a_total counter\n", ""),        # no TYPE
                good + 'a_total{k="v"} 2\n',                         # repeated sample
                good.replace('{k="v"}', "{k=v}"),                    # unquoted label
                good.replace('{k="v"}', '{1k="v"}'),                 # bad label name
                good.replace(" 1\n", " one\n"),                      # bad value
                good.replace("counter", "countr"),                   # bad type
                good + "# HELP b x\n# TYPE b gauge\nb 1\na_total 2\n",   # not contiguous
                good + "\n"):                                        # empty line
        try:
            parse_metrics(bad)
        except (AssertionError, ValueError):
            continue
        raise AssertionError(f"parser accepted {bad!r}")


def test_metrics_format_and_families(make_daemon):
    d = start_api_daemon(make_daemon)
    port = api_port(d)
    s = scrape(port)
    for name, labels in EXPECTED:
        val(s, name, **labels)
    assert val(s, "zwsd_broker_up") == 1
    assert ("zwsd_worker_connections", frozenset({("worker", "2")})) not in s
    r = api_call(port, "GET", "/metrics")
    text = r.body.decode()
    assert "# TYPE zwsd_connections gauge\n" in text
    assert "# TYPE zwsd_messages_routed_total counter\n" in text


def test_counters_move_by_what_was_done(make_daemon):
    """N chats, a bad frame, a refused handshake, a join, API pushes: each
    counter moves by exactly that, whichever worker serves the scrape."""
    d = start_api_daemon(make_daemon)
    port = api_port(d)
    n = 7

    async def body():
        (alice, _, _), (bob, _, _) = await connect_on_distinct_workers(d, ["alice", "bob"])
        before = await asyncio.to_thread(scrape, port)
        for i in range(n):
            await alice.send(chat("bob", i))
        for i in range(n):
            assert (await recv_json(bob)).get("msg") == i
        await alice.send(chat("bob", "acked", id="a1"))
        await recv_json(bob)
        ack = await recv_json(alice)
        assert ack.get("status") == "delivered", ack
        await alice.send("not json {")
        err = await recv_json(alice)
        assert err.get("code") == "bad_json", err
        await join(bob, "g", "j1")
        # a refused handshake (404) and an accepted one
        resp = await asyncio.to_thread(raw_http, d.port, upgrade_request(d.port, path="/nope"))
        assert resp.startswith(b"HTTP/1.1 404"), resp[:60]
        carol, _ = await ws_connect(d, "carol")
        check_pushed(await aapi(port, "POST", "/api/v1/send", {"group": "g", "msg": 1}), "sent")
        assert (await recv_json(bob)).get("type") == "group"
        check_pushed(await aapi(port, "POST", "/api/v1/send", {"receiver": "carol", "msg": 1}),
                     "delivered")
        await recv_json(carol)
        check_pushed(await aapi(port, "POST", "/api/v1/send", {"receiver": "zed", "msg": 1}),
                     "offline")
        # several scrapes, on fresh connections spread over both workers
        afters = [await asyncio.to_thread(scrape, port) for _ in range(6)]
        for after in afters:
            assert delta(before, after, "zwsd_messages_routed_total", kind="chat") == n + 1 + 2
            assert delta(before, after, "zwsd_messages_routed_total", kind="group") == 1
            assert delta(before, after, "zwsd_messages_routed_total", kind="broadcast") == 0
            assert delta(before, after, "zwsd_acks_total", status="delivered") == 2
            assert delta(before, after, "zwsd_acks_total", status="offline") == 1
            assert delta(before, after, "zwsd_acks_total", status="sent") == 1
            assert delta(before, after, "zwsd_acks_total", status="joined") == 1
            assert delta(before, after, "zwsd_errors_total", code="bad_json") == 1
            assert delta(before, after, "zwsd_errors_total", code="bad_request") == 0
            assert delta(before, after, "zwsd_handshakes_total", result="refused",
                         status="404") == 1
            assert delta(before, after, "zwsd_handshakes_total", result="accepted") == 1
            # frames in: n chats + the acked chat + the bad one + the join
            assert delta(before, after, "zwsd_frames_total", direction="in") == n + 3
            assert val(after, "zwsd_connections") == 3
            assert val(after, "zwsd_sessions") == 3
    run(body())


def test_worker_gauges_sum_to_connections(make_daemon):
    """Per-worker connection gauges add up to zwsd_connections, including
    a connection that has not finished its handshake; with connections on
    both workers both gauges are non-zero."""
    d = start_api_daemon(make_daemon)
    port = api_port(d)

    async def body():
        await connect_on_distinct_workers(d, ["a", "b"])
        for u in ("c", "d", "e"):
            await ws_connect(d, u)
        half = socket.create_connection(("127.0.0.1", d.port), timeout=WAIT)
        try:
            half.sendall(b"GET /ws/x HTTP/1.1\r\n")      # half a handshake
            for _ in range(50):     # the accept may lag the connect: poll, bounded
                s = await asyncio.to_thread(scrape, port)
                if val(s, "zwsd_connections") == 6:
                    break
                await asyncio.sleep(0.05)
            per = [val(s, "zwsd_worker_connections", worker=str(i)) for i in range(2)]
            assert sum(per) == val(s, "zwsd_connections") == 6, (per, s)
            assert all(p >= 1 for p in per), per
            assert val(s, "zwsd_sessions") == 5
        finally:
            half.close()
    run(body())
