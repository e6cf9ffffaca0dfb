"""32 — sd_notify: with NOTIFY_SOCKET (a unix datagram socket of ours) and
WATCHDOG_USEC=2 s, the supervisor sends READY=1 once every worker is ready
(and not before the broker is reachable), STATUS=, WATCHDOG=1 at least once
per watchdog interval, RELOADING=1 then READY=1 around a SIGHUP, and
STOPPING=1 after SIGTERM. Every datagram comes from the supervisor itself
(the unit has NotifyAccess=main)."""
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (LOGDIR, SUPERVISOR_READY, WAIT, WORKER_READY, ZWSD_BROKER, Daemon,
                      free_port)

WATCHDOG_USEC = 2000000


class Notifications:
    """A bound AF_UNIX datagram socket that records every datagram as
    (monotonic time, sender pid, [fields])."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.msgs = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except OSError:
                break
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:12])[0]
            with self.cond:
                self.msgs.append((time.monotonic(), pid, data.decode().split("\n")))
                self.cond.notify_all()

    def wait(self, field, timeout, start=0):
        """Index of the first datagram at or after `start` with a line
        starting with `field` (e.g. "READY=1", "STATUS=")."""
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.msgs):
                    if any(f.startswith(field) for f in self.msgs[i][2]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {field} within {timeout} s; got {self.dump()}")
                self.cond.wait(min(left, 0.2))

    def indexes(self, field):
        with self.cond:
            return [i for i, m in enumerate(self.msgs) if any(f.startswith(field) for f in m[2])]

    def dump(self):
        return [(round(t, 3), pid, fields) for t, pid, fields in self.msgs]

    def close(self):
        self.sock.close()


class NotifyDaemon(Daemon):
    """The harness's daemon, started with NOTIFY_SOCKET and WATCHDOG_USEC
    (through env(1), which execs zwsd under the same pid)."""

    def __init__(self, notify_path, watchdog_usec=WATCHDOG_USEC, **kw):
        super().__init__(**kw)
        self.notify_path = notify_path
        self.watchdog_usec = watchdog_usec

    def argv(self):
        return ["/usr/bin/env", f"NOTIFY_SOCKET={self.notify_path}",
                f"WATCHDOG_USEC={self.watchdog_usec}"] + super().argv()


@pytest.fixture
def notify(tmp_path):
    n = Notifications(str(tmp_path))
    yield n
    n.close()


def log_path(request):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    return os.path.join(LOGDIR, safe + ".log")


def ready_lines_in_order(d):
    """The supervisor's ready: line comes after a `worker N ready` line of
    every current worker (lines of one pipe: causal order is kept)."""
    ready = d.wait_log(SUPERVISOR_READY, timeout=1)
    seen = {}
    for i, line in enumerate(d.lines[:ready.index]):
        m = WORKER_READY.search(line)
        if m:
            seen[int(m.group(1))] = i
    missing = set(d.worker_pids()) - set(seen)
    assert not missing, f"ready: logged before workers {missing} were ready"


def test_notify_sequence(request, notify, own_daemons):
    d = NotifyDaemon(notify.path, log_path=log_path(request))
    own_daemons.append(d)
    d.start()
    sup = d.proc.pid
    r = notify.wait("READY=1", timeout=5)
    ready_lines_in_order(d)
    # STATUS=: with READY=1 or on its own
    notify.wait("STATUS=", timeout=5)
    # WATCHDOG=1 at least twice, no gap longer than the watchdog interval
    first = notify.wait("WATCHDOG=1", timeout=WATCHDOG_USEC / 1e6)
    second = notify.wait("WATCHDOG=1", timeout=WATCHDOG_USEC / 1e6, start=first + 1)
    gap = notify.msgs[second][0] - notify.msgs[first][0]
    assert gap < WATCHDOG_USEC / 1e6, f"WATCHDOG=1 only every {gap:.2f} s"

    # SIGHUP: RELOADING=1, then READY=1 again
    mark = len(notify.msgs)
    d.proc.send_signal(signal.SIGHUP)
    rl = notify.wait("RELOADING=1", timeout=5, start=mark)
    notify.wait("READY=1", timeout=5, start=rl)

    mark = len(notify.msgs)
    assert d.stop() == 0
    s = notify.wait("STOPPING=1", timeout=1, start=mark)
    readies = notify.indexes("READY=1")
    assert readies and readies[0] == r and max(readies) < s, \
        f"READY=1 must precede STOPPING=1: {notify.dump()}"
    assert notify.indexes("STOPPING=1") == [s], notify.dump()
    senders = {pid for _, pid, _ in notify.msgs}
    assert senders == {sup}, f"datagrams from {senders}, not only the supervisor {sup}"


def test_ready_waits_for_the_broker(request, notify, own_daemons):
    """With an external broker that is not running yet, the workers cannot be
    ready: no READY=1 (and no ready: line) during two watchdog pings, nor
    after a SIGHUP handled meanwhile; once the broker starts, READY=1
    follows. (WATCHDOG_USEC=500 ms here: pings every 250 ms.)"""
    p1, p2 = free_port(), free_port()
    while p2 == p1:
        p2 = free_port()
    d = NotifyDaemon(notify.path, watchdog_usec=500000,
                     args=["--broker", f"tcp://127.0.0.1:{p1},tcp://127.0.0.1:{p2}"],
                     log_path=log_path(request))
    own_daemons.append(d)
    d.port = free_port()
    d._spawn()
    broker = None
    try:
        # two watchdog pings: the daemon runs, and is not ready
        first = notify.wait("WATCHDOG=1", timeout=5)
        notify.wait("WATCHDOG=1", timeout=5, start=first + 1)
        assert len(d.worker_pids()) == 2, d.children()
        assert notify.indexes("READY=1") == [], f"READY=1 without a broker: {notify.dump()}"
        assert not any(SUPERVISOR_READY.search(l) for l in list(d.lines)), \
            "ready: logged without a broker"

        # a reload before the daemon was ever ready must not announce it
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"^<\d>zwsd\[\d+\]: (?:.*\s)?reloaded\b", timeout=WAIT)
        i = len(notify.msgs)
        # the second ping after the reload was surely sent after it
        w = notify.wait("WATCHDOG=1", timeout=5, start=i)
        notify.wait("WATCHDOG=1", timeout=5, start=w + 1)
        assert notify.indexes("READY=1") == [], \
            f"READY=1 after a SIGHUP, before any worker was ready: {notify.dump()}"

        t0 = time.monotonic()
        broker = subprocess.Popen([ZWSD_BROKER, "--pub", f"tcp://127.0.0.1:{p1}",
                                   "--sub", f"tcp://127.0.0.1:{p2}"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        i = notify.wait("READY=1", timeout=5)
        print(f"\nREADY=1 {notify.msgs[i][0] - t0:.3f} s after the broker started")
        ready_lines_in_order(d)
        assert {pid for _, pid, _ in notify.msgs} == {d.proc.pid}
    finally:
        if broker:
            broker.kill()
            broker.wait()
