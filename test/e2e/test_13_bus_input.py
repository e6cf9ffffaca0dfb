"""13 — bus input is not trusted (issue 14.5): a backend's hand-built
envelope whose msg is not valid JSON is dropped where it enters the worker,
so no recipient gets a broken frame, and the next good message arrives."""
import asyncio
import os
import time

import zmq

from conftest import recv_json, run, uniq, ws_connect


def _mp_str(s):
    b = s.encode()
    assert len(b) < 256
    return (bytes([0xA0 | len(b)]) if len(b) < 32 else bytes([0xD9, len(b)])) + b


def _envelope(fields):
    """A msgpack map of str -> str|int, as proto/ENVELOPE.md lays it out."""
    out = bytes([0x80 | len(fields)])
    for k, v in fields.items():
        out += _mp_str(k)
        out += bytes([v]) if isinstance(v, int) else _mp_str(v)
    return out


def test_invalid_json_msg_from_the_bus_is_dropped(make_daemon):
    d = make_daemon(workers=1)

    async def body():
        bob = uniq("bob")
        ws, _ = await ws_connect(d, bob)
        ctx = zmq.Context()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect(f"ipc://{os.path.join(d.tmpdir, 'pub')}")
        try:
            topic = f"u:{bob}|".encode()
            deadline = time.monotonic() + 5
            got = None
            while got is None:          # a PUB drops until connected: repeat the pair
                assert time.monotonic() < deadline, "the good message never arrived"
                for msg in ('{"broken": ', '[1,2', 'nul\x00l', '"ok-marker"'):
                    pub.send_multipart([topic, _envelope(
                        {"v": 1, "kind": "chat", "sender": "system", "to": bob, "msg": msg})])
                try:
                    got = await recv_json(ws, timeout=0.2)
                except AssertionError:
                    continue
            assert got.get("type") == "chat" and got.get("msg") == "ok-marker", got
        finally:
            pub.close()
            ctx.term()
        await asyncio.wait_for(ws.close(), 5)

    run(body())
