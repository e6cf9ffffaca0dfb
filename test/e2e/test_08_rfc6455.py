"""08 — RFC 6455 protocol errors get a close frame with 1002, then the TCP
close (5.5, 7.1.5, 7.4.1), and the daemon keeps serving everyone else:
control frames over 125 bytes or fragmented, a close with a 1-byte payload,
reserved opcodes, RSV bits, unmasked frames, continuations of nothing and a
new message inside a fragmented one."""
import pytest

from conftest import WAIT, masked, raw_ws, read_close_code, run, uniq, ws_connect

CASES = {
    "ping_126": masked(0x9, b"p" * 126),
    "fragmented_ping": masked(0x9, b"p", fin=False),
    "close_1_byte": masked(0x8, b"\x03"),
    "reserved_opcode": masked(0x3, b"x"),
    "reserved_control": masked(0xB, b""),
    "rsv1": bytes([0xC1]) + masked(0x1, b"{}")[1:],
    "unmasked": b"\x81\x02{}",
    "continuation_of_nothing": masked(0x0, b"x"),
    "message_inside_message": masked(0x1, b"{", fin=False) + masked(0x1, b"{}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_protocol_error_closes_1002(shared_daemon, case):
    d = shared_daemon
    s = raw_ws(d, uniq("bad"))
    s.sendall(CASES[case])
    assert read_close_code(s) == 1002, case
    s.settimeout(WAIT)
    rest = b""
    while True:                                 # then TCP closes
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    assert rest == b"", f"bytes after the close frame: {rest!r}"
    s.close()

    async def others_fine():
        ws, _ = await ws_connect(d, uniq("ok"))
        await ws.close()
    run(others_fine())
