"""End-to-end harness: the real zwsd supervisor, real sockets, no mocks.

Run from the repository root by test/run.sh:
    /usr/bin/python3 -m pytest -q -p no:cacheprovider test/e2e
with ZWSD_BUILD=<absolute build dir> (default /work/main/build) holding `zwsd`
and `zwsd-broker`. Debian's python3 is required (python3-websockets 10.4,
python3-pytest 7.2); there is no pytest-asyncio, so every test is a plain
function that calls run(async_body()).

Knobs (as nginx-tests' TEST_NGINX_*):
    ZWSD_BUILD          build directory with the binaries
    ZWSD_E2E_LEAVE=1    keep each daemon's runtime directory after the test
    ZWSD_E2E_LOGDIR     where per-test daemon logs go (default $ZWSD_BUILD/e2e-logs)

Rules the tests follow: every await has a timeout (WAIT, 5 s) so a broken daemon
fails a test quickly instead of hanging; nothing sleeps for a fixed time where an
event can be awaited (log lines are awaited with wait_log(), frames with
recv_json()); a failing test gets the tail of the daemon's log in its report.

Worker placement is proven, not assumed: worker_of() asks the kernel (ss -tnp)
which process holds the server side of a client's TCP connection.
"""
import asyncio
import base64
import calendar
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest
import websockets

BUILD = os.path.abspath(os.environ.get("ZWSD_BUILD", "/work/main/build"))
ZWSD = os.path.join(BUILD, "zwsd")
ZWSD_BROKER = os.path.join(BUILD, "zwsd-broker")
LOGDIR = os.environ.get("ZWSD_E2E_LOGDIR", os.path.join(BUILD, "e2e-logs"))
LEAVE = os.environ.get("ZWSD_E2E_LEAVE", "") not in ("", "0")

WAIT = 5.0          # per-await timeout
START_WAIT = 10.0   # supervisor start until its "ready:" line
STOP_WAIT = 15.0    # SIGTERM until exit

# "<6>zwsd-worker[1240]: worker 1 ready"
LOG_LINE = re.compile(r"^<([0-7])>([A-Za-z0-9_.-]+)\[(\d+)\]: (.*)$")
# The two log lines that are a contract; the rest of the wording is free.
SUPERVISOR_READY = re.compile(r"^<\d>zwsd\[\d+\]: (?:.*\s)?ready:")
# A child dying before ready (wording as the supervisor logs it today; an
# unknown wording just means waiting for the START_WAIT timeout instead).
CHILD_DIED = re.compile(r"^<[34]>zwsd\[\d+\]: .*(killed by signal|dumped core)")
START_OUTCOME = re.compile(f"{SUPERVISOR_READY.pattern}|{CHILD_DIED.pattern}")
WORKER_READY = re.compile(r"^<\d>zwsd-worker\[(\d+)\]: (?:.*\s)?worker (\d+) ready\b")

CHILD_COMMS = ("zwsd-worker", "zwsd-broker")
# A line of a sanitizer report (`make test-asan`: ASan, LSan, UBSan, whose
# reports read "file.c:12:5: runtime error: ..."): any fails the test.
SANITIZER_REPORT = re.compile(
    r"(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --------------------------------------------------------------------------
# processes

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def proc_stat(pid):
    """(comm, state, ppid, starttime) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: it ends at the last ')'.
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1]), int(rest[19])


class LogMatch(str):
    """A log line returned by wait_log(): the text, plus .index (its position
    in Daemon.lines, for a later start=) and .match (the re.Match)."""

    def __new__(cls, line, index, match):
        s = super().__new__(cls, line)
        s.index = index
        s.match = match
        return s


class Daemon:
    """One real zwsd supervisor on a free port with a fresh runtime directory.

    stdout and stderr are read line by line by a thread into self.lines (and
    echoed to self.log_path with a relative timestamp). Every child pid the
    harness ever sees (children() or a log line's role[pid]) is remembered, so
    that cleanup() can prove none of them outlives the supervisor."""

    host = "127.0.0.1"      # where clients reach it (netns.py's hosts differ)

    def __init__(self, args=(), workers=2, log_path=None):
        self.workers = workers
        self.extra = [str(a) for a in args]
        self.port = None
        self.tmpdir = tempfile.mkdtemp(prefix="zw", dir="/tmp")
        self.log_path = log_path
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        self.proc = None
        self.stopped = False    # stop() was called: an exit is expected
        self.known = {}     # pid -> (comm, starttime): descendants seen
        self.log_pids = {}  # pid -> role, from log lines
        self._logf = None
        self._reader = None
        self._t0 = time.monotonic()

    # -- start / stop -------------------------------------------------------

    def argv(self):
        return [ZWSD, "--listen", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers),
                "--runtime-dir", self.tmpdir,
                "--api-listen", "off", "-v"] + self.extra

    def start(self, timeout=START_WAIT):
        """Start and wait for the supervisor's "ready:" line. A lost race for
        the free port (exit before ready, log says so) is retried."""
        if not os.access(ZWSD, os.X_OK):
            pytest.fail(f"{ZWSD} is missing: build first (make), or set ZWSD_BUILD")
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._logf = open(self.log_path, "w", encoding="utf-8")
        for attempt in range(3):
            self.port = free_port()
            start = len(self.lines)
            self._spawn()
            try:
                line = self.wait_log(START_OUTCOME, timeout=timeout, start=start)
                if not SUPERVISOR_READY.search(line):
                    raise AssertionError(
                        f"a child died while zwsd was starting: {line}\n"
                        + "\n".join(self.lines[start:][-30:]))
                break
            except AssertionError:
                rc = self.proc.poll()
                text = "\n".join(self.lines[start:])
                if rc is not None and re.search(r"(?i)address already in use|EADDRINUSE", text) \
                        and attempt < 2:
                    self._join_reader()
                    continue
                raise
        got = self.worker_pids()
        assert len(got) == self.workers, \
            f"after ready: expected {self.workers} zwsd-worker children, got {self.children()}"
        return self

    def _spawn(self):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)     # not under systemd here
        env.pop("LISTEN_FDS", None)
        self._note(f"### {' '.join(self.argv())}")
        self.eof = False
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        st = proc_stat(self.proc.pid)
        self.sup_start = st[3] if st else 0
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                         daemon=True)
        self._reader.start()

    def _note(self, text):
        f = self._logf
        if f:
            try:
                f.write(f"{time.monotonic() - self._t0:8.3f} {text}\n")
                f.flush()
            except ValueError:      # closed by cleanup() while a straggler wrote
                pass

    def _read(self, pipe):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            m = LOG_LINE.match(line)
            with self.cond:
                if m and m.group(2) != "zwsd":
                    self.log_pids[int(m.group(3))] = m.group(2)
                self.lines.append(line)
                self._note(line)
                self.cond.notify_all()
        pipe.close()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _join_reader(self, timeout=5):
        """Wait for the end of the output (every holder of the pipe gone)."""
        if self._reader:
            self._reader.join(timeout=timeout)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_WAIT):
        """SIGTERM, wait up to timeout, return the exit code (negative: killed
        by that signal). A supervisor still alive at the deadline is SIGKILLed
        and the call fails."""
        self.children()     # remember who must be gone afterwards
        self.stopped = True
        if not self.running():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"zwsd did not exit within {timeout} s of SIGTERM")
        return rc

    def survivors(self):
        """Every remembered child (worker, broker) that is still alive: same pid,
        same start time, not a zombie."""
        left = []
        for pid, (comm, start) in sorted(self.known.items()):
            st = proc_stat(pid)
            if st and st[3] == start and st[1] != "Z":
                left.append((pid, comm))
        for pid, role in sorted(self.log_pids.items()):
            if pid in self.known:
                continue
            st = proc_stat(pid)
            if st and st[0] in CHILD_COMMS and st[3] >= self.sup_start and st[1] != "Z":
                left.append((pid, st[0]))
        return left

    def cleanup(self):
        """Teardown: stop (SIGKILL after the timeout), then list the problems:
        a supervisor that ignored SIGTERM, children that outlived it (they are
        SIGKILLed so the next test starts clean)."""
        problems = []
        if self.proc is not None:
            if not self.running() and not self.stopped:
                problems.append(f"zwsd exited on its own during the test, code {self.proc.returncode}")
            try:
                was_running = self.running()
                rc = self.stop()
                if was_running and rc != 0:
                    problems.append(f"zwsd exited {rc} after SIGTERM at teardown, expected 0")
            except AssertionError as e:
                problems.append(str(e))
            left = self.survivors()
            if left:
                problems.append(f"children survived the supervisor: {left}")
                for pid, _ in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self._join_reader()
            # under `make test-asan` every process reports leaks and memory
            # errors on stderr at exit: any such report fails the test
            with self.cond:
                san = [l for l in self.lines if SANITIZER_REPORT.search(l)]
            if san:
                problems.append("sanitizer report in the daemon log: " + san[0])
        if self._logf:
            self._logf.close()
            self._logf = None
        if not LEAVE:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return problems

    # -- log ----------------------------------------------------------------

    def mark(self):
        """Index of the next log line, for wait_log(start=...)."""
        with self.cond:
            return len(self.lines)

    def wait_log(self, regex, timeout=10, start=0):
        """Wait for a log line at index >= start that matches regex (re.search);
        returns it as a LogMatch (.index, .match). Fails at the timeout or as
        soon as the daemon's output has ended without a match."""
        rx = re.compile(regex) if isinstance(regex, str) else regex
        deadline = time.monotonic() + timeout
        exited_at = None
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return LogMatch(self.lines[i], i, m)
                    i += 1
                now = time.monotonic()
                # children may keep the pipe open after the supervisor died:
                # its exit, plus a second for the last lines, also ends the wait
                if exited_at is None and self.proc is not None and self.proc.poll() is not None:
                    exited_at = now
                why = None
                if self.eof:
                    why = "the daemon's output ended"
                elif exited_at is not None and now - exited_at > 1.0:
                    why = f"zwsd exited with code {self.proc.returncode}"
                elif now >= deadline:
                    why = f"{timeout} s passed"
                if why:
                    tail = "\n".join(self.lines[-30:])
                    raise AssertionError(
                        f"no log line matching {rx.pattern!r} ({why}); last lines:\n{tail}")
                self.cond.wait(min(deadline - now, 0.2))

    def log_tail(self, n=80):
        with self.cond:
            return "\n".join(self.lines[-n:])

    # -- processes ----------------------------------------------------------

    def children(self):
        """[(pid, comm)] of the supervisor's live children (/proc scan)."""
        if self.proc is None:
            return []
        sup = self.proc.pid
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            st = proc_stat(int(name))
            if st and st[2] == sup and st[1] != "Z":
                pid = int(name)
                out.append((pid, st[0]))
                self.known.setdefault(pid, (st[0], st[3]))
        return sorted(out)

    def worker_pids(self):
        return sorted(p for p, c in self.children() if c == "zwsd-worker")

    def broker_pids(self):
        return sorted(p for p, c in self.children() if c == "zwsd-broker")

    def wait_new_worker(self, old_pids, start, timeout=WAIT):
        """Await "worker N ready" from a zwsd-worker pid not in old_pids, logged
        at or after index start; returns that pid."""
        i = start
        deadline = time.monotonic() + timeout
        while True:
            line = self.wait_log(WORKER_READY, timeout=max(0.01, deadline - time.monotonic()),
                                 start=i)
            pid = int(line.match.group(1))
            if pid not in old_pids:
                return pid
            i = line.index + 1


# --------------------------------------------------------------------------
# fixtures

def _flag_args(flags):
    args = []
    for k, v in flags.items():
        if v is None or v is False:
            continue
        args.append("--" + k.replace("_", "-"))
        if v is not True:
            args.append(str(v))
    return args


@pytest.fixture
def make_daemon(request):
    """Factory: make_daemon(*args, workers=2, **flags) starts a daemon with the
    standard flags plus --flag-name value for each keyword (True: bare flag) and
    the raw args. Teardown stops every daemon and asserts that none left a child
    process behind."""
    daemons = []
    request.node._zwsd_daemons = daemons
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)

    def factory(*args, workers=2, **flags):
        n = len(daemons)
        log = os.path.join(LOGDIR, safe + (f".{n}" if n else "") + ".log")
        d = Daemon(list(args) + _flag_args(flags), workers=workers, log_path=log)
        daemons.append(d)
        return d.start()

    yield factory
    problems = []
    for d in daemons:
        problems += d.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def daemon(make_daemon):
    """A daemon with the default flags (2 workers, embedded broker)."""
    return make_daemon()


@contextlib.contextmanager
def started_daemon(request, args=()):
    """A started Daemon logging under the requesting test or module's name;
    leaving the block cleans it up and fails on any problem it left."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    d = Daemon(args=list(args), log_path=os.path.join(LOGDIR, safe + ".log"))
    try:
        d.start()
        yield d
    finally:
        problems = d.cleanup()
        assert not problems, "; ".join(problems)


@pytest.fixture(scope="module")
def _module_daemon(request):
    with started_daemon(request) as d:
        yield d


@pytest.fixture
def shared_daemon(_module_daemon, request):
    """One default daemon for a whole module, for tests that leave no state
    behind (bad frames, refused handshakes); each test uses its own userIds.
    A test fails if a worker process changed under it (a crash, even one the
    supervisor repaired), so a hostile input that kills a worker is caught by
    the test that sent it."""
    d = _module_daemon
    request.node._zwsd_daemons = [d]
    before = d.worker_pids()
    if not d.running() or len(before) != d.workers:
        pytest.fail(f"shared daemon unhealthy before this test: running={d.running()} "
                    f"workers={before}")
    start = d.mark()
    yield d
    after = d.worker_pids()
    assert d.running() and after == before, \
        f"worker processes changed during the test: {before} -> {after} (crash?); " \
        f"log since the test began:\n" + "\n".join(d.lines[start:][-30:])


_uniq = [0]


def uniq(base):
    """A userId not used before in this pytest run (for shared daemons)."""
    _uniq[0] += 1
    return f"{base}{_uniq[0]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, d in enumerate(getattr(item, "_zwsd_daemons", [])):
            rep.sections.append((f"zwsd log {i} ({d.log_path})", d.log_tail()))


# --------------------------------------------------------------------------
# clients

_opened = []    # websockets opened in the current run(); aborted at its end


def run(coro, timeout=60):
    """Run an async test body with an overall deadline; every client it opened
    is aborted afterwards."""
    async def guarded():
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            for ws in _opened:
                if ws.transport is not None and not ws.closed:
                    ws.transport.abort()
            _opened.clear()
    return asyncio.run(guarded())


def ws_url(daemon, user):
    return f"ws://{daemon.host}:{daemon.port}/ws/{user}"


async def ws_connect(daemon, user, timeout=WAIT, **kw):
    """Open /ws/<user> and wait for the first frame, which must be `welcome`.
    Returns (ws, welcome)."""
    kw.setdefault("open_timeout", timeout)
    kw.setdefault("close_timeout", 3)
    kw.setdefault("ping_interval", None)    # no client pings unless a test sends one
    ws = await asyncio.wait_for(websockets.connect(ws_url(daemon, user), **kw), timeout + 1)
    _opened.append(ws)
    welcome = await recv_json(ws, timeout)
    assert welcome.get("type") == "welcome", f"first frame is not welcome: {welcome}"
    return ws, welcome


async def recv_json(ws, timeout=WAIT):
    """The next frame, which must be a text frame holding a JSON object."""
    try:
        msg = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no frame within {timeout} s") from None
    assert isinstance(msg, str), f"expected a text frame, got binary {msg[:60]!r}"
    obj = json.loads(msg)
    assert isinstance(obj, dict), f"frame is not a JSON object: {msg[:200]}"
    return obj


async def recv_n(ws, n, timeout=WAIT):
    """The next n frames (for replies whose relative order is not specified)."""
    return [await recv_json(ws, timeout) for _ in range(n)]


async def wait_closed(ws, timeout=WAIT):
    """Wait until the connection is closed; returns the close code the server
    sent (1006: TCP ended without a close frame). Frames still queued are
    discarded."""
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"connection still open after {timeout} s") from None
    return ws.close_code


async def send_json(ws, obj):
    await asyncio.wait_for(ws.send(json.dumps(obj)), WAIT)


def worker_of(daemon, ws, tries=20):
    """Pid of the process that holds the server side of this client connection.

    The client's local port is the peer port of the server's socket; `ss -tnp`
    on the daemon's port names the owning process (pid=N). Fails unless exactly
    one process holds it and it is one of the daemon's zwsd-worker children."""
    cport = ws.local_address[1]
    pids = set()
    for _ in range(tries):
        out = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"( sport = :{daemon.port} )"],
            capture_output=True, text=True, timeout=5, check=True).stdout
        pids = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 4 and f[3].rsplit(":", 1)[-1] == str(cport):
                pids.update(int(p) for p in re.findall(r"pid=(\d+)", line))
        if pids:
            break
        time.sleep(0.05)    # socket not yet listed: poll, bounded
    assert len(pids) == 1, f"server socket for client port {cport} held by {pids or 'nobody'}"
    pid = pids.pop()
    workers = daemon.worker_pids()
    assert pid in workers, f"connection held by pid {pid}, not a worker {workers}"
    return pid


async def connect_on_distinct_workers(daemon, users, tries=50, **kw):
    """Connect each user (names may repeat: one connection each) so that all
    connections sit on different worker processes: a connection that lands on
    a worker already taken is closed and retried, up to `tries` times in all.
    Returns [(ws, welcome, worker_pid)] in the order of users."""
    assert len(users) <= daemon.workers
    got = []
    taken = set()
    attempts = 0
    for user in users:
        while True:
            attempts += 1
            assert attempts <= tries + len(users), \
                f"could not place {users} on distinct workers in {tries} tries"
            ws, welcome = await ws_connect(daemon, user, **kw)
            pid = worker_of(daemon, ws)
            if pid not in taken:
                taken.add(pid)
                got.append((ws, welcome, pid))
                break
            await asyncio.wait_for(ws.close(), WAIT)
    return got


def chat(receiver, msg, id=None, **extra):
    """A client chat frame as JSON text."""
    obj = {"type": "chat", "receiver": receiver, "msg": msg}
    if id is not None:
        obj["id"] = id
    obj.update(extra)
    return json.dumps(obj)


def check_chat(frame, sender, receiver, msg):
    """Assert a server chat frame; returns its mid."""
    assert frame.get("type") == "chat", frame
    assert frame.get("sender") == sender, frame
    assert frame.get("receiver") == receiver, frame
    assert "msg" in frame and frame["msg"] == msg and type(frame["msg"]) is type(msg), \
        f"msg {frame.get('msg')!r} != sent {msg!r}"
    assert isinstance(frame.get("mid"), str) and frame["mid"], frame
    ct = frame.get("createTime")
    assert isinstance(ct, str) and RFC3339_MS.match(ct), f"createTime {ct!r}"
    t = calendar.timegm(time.strptime(ct[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(t - time.time()) < 120, f"createTime {ct} is not now"
    return frame["mid"]


def check_error(frame, code, id=None):
    """Assert an error frame with this code; `id` must be echoed when given
    and absent when None."""
    assert frame.get("type") == "error", frame
    assert frame.get("code") == code, frame
    assert isinstance(frame.get("reason"), str) and frame["reason"], frame
    if id is None:
        assert "id" not in frame, f"unexpected id in {frame}"
    else:
        assert frame.get("id") == id, frame


async def assert_usable(ws, user, tag):
    """The connection still works: a chat to oneself with id=tag comes back to
    this session together with its ack `delivered` (in either order)."""
    assert re.fullmatch(r"[!-~]{1,64}", tag), f"tag {tag!r} is not a valid id"
    await asyncio.wait_for(ws.send(chat(user, tag, id=tag)), WAIT)
    frames = []
    try:
        for _ in range(2):
            frames.append(await recv_json(ws))
    except AssertionError as e:
        raise AssertionError(f"self chat {tag!r} of {user}: {e}; got {frames}") from None
    kinds = sorted(f.get("type") for f in frames)
    assert kinds == ["ack", "chat"], f"after {tag}: {frames}"
    ack = next(f for f in frames if f["type"] == "ack")
    msg = next(f for f in frames if f["type"] == "chat")
    mid = check_chat(msg, user, user, tag)
    assert ack == {"type": "ack", "id": tag, "mid": mid, "status": "delivered"}, ack


async def time_until_offline(ws, receiver, t0, limit=3.0, prefix="poll"):
    """Chat to `receiver` with an id every ~50 ms (each answer awaited) until
    the ack says offline; returns the loop time from t0 to that send. There is
    no event a client could await for "the route is gone", hence the polling.
    A chat in flight when the receiver's worker died draws no receipt and is
    answered `unavailable` (zwsd-protocol(7)): that counts as not yet."""
    loop = asyncio.get_running_loop()
    n = 0
    while True:
        n += 1
        sent = loop.time()
        await asyncio.wait_for(ws.send(chat(receiver, n, id=f"{prefix}{n}")), WAIT)
        while True:     # skip frames that are not this ack (e.g. chats to self)
            ack = await recv_json(ws)
            if ack.get("type") in ("ack", "error") and ack.get("id") == f"{prefix}{n}":
                break
        if ack.get("status") == "offline":
            return sent - t0
        assert ack.get("status") == "delivered" or ack.get("code") == "unavailable", ack
        assert sent - t0 < limit, f"{receiver} still not offline {sent - t0:.2f} s after"
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------
# raw HTTP

def raw_http(port, data, timeout=WAIT, until=None, require_close=True):
    """Send raw bytes to 127.0.0.1:port and return what comes back.

    Reads until the server closes (EOF or reset), or, with until=b"...", until
    those bytes have arrived. With require_close (the default, and until=None)
    the server must close within timeout, else the call fails."""
    buf = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        deadline = time.monotonic() + timeout
        closed = False
        while True:
            if until is not None and until in buf:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    if until is None and require_close:
        assert closed, f"server did not close within {timeout} s; got {buf[:300]!r}"
    return buf


def parse_http(resp):
    """(status, {lower-case name: value}, body) of a raw HTTP/1.1 response."""
    assert b"\r\n\r\n" in resp, f"no complete HTTP head in {resp[:300]!r}"
    head, body = resp.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.1 (\d{3}) ", lines[0] + " ")
    assert m, f"bad status line {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = (headers[key] + ", " if key in headers else "") + value.strip()
    return int(m.group(1)), headers, body


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def upgrade_request(port, path="/ws/bob", method="GET", drop=(), add=(), key=None,
                    version="13"):
    """A WebSocket upgrade request as bytes; drop: header names to leave out;
    add: extra (name, value) pairs."""
    hdrs = [("Host", f"127.0.0.1:{port}"), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key or ws_key()),
            ("Sec-WebSocket-Version", version)]
    hdrs = [(k, v) for k, v in hdrs if k.lower() not in {d.lower() for d in drop}]
    hdrs += list(add)
    text = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    return text.encode("latin-1")


class ExtBroker:
    """A standalone zwsd-broker on two tcp ports of 127.0.0.1."""

    def __init__(self, log, args=(), ipc_dir=None):
        self.args = list(args)
        self.ipc_dir = ipc_dir              # ipc:// endpoints in this directory instead
        self.pub, self.sub = free_port(), free_port()
        while self.sub == self.pub:
            self.sub = free_port()
        self.log = log
        self.proc = None

    @property
    def endpoints(self):
        if self.ipc_dir:
            return f"ipc://{self.ipc_dir}/pub", f"ipc://{self.ipc_dir}/sub"
        return f"tcp://127.0.0.1:{self.pub}", f"tcp://127.0.0.1:{self.sub}"

    @property
    def arg(self):
        return ",".join(self.endpoints)

    def start(self):
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        with open(self.log, "a") as f:
            pub, sub = self.endpoints
            self.proc = subprocess.Popen(
                [ZWSD_BROKER, "--pub", pub, "--sub", sub, "-v"] + self.args,
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + WAIT
        if self.ipc_dir:                        # bound: both sockets exist
            for ep in self.endpoints:
                while not os.path.exists(ep[len("ipc://"):]):
                    assert self.proc.poll() is None, f"zwsd-broker exited {self.proc.returncode}"
                    assert time.monotonic() < deadline, f"zwsd-broker did not bind {ep}"
                    time.sleep(0.01)
            return self
        for port in (self.pub, self.sub):       # bound: both accept TCP
            while True:
                assert self.proc.poll() is None, f"zwsd-broker exited {self.proc.returncode}"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"zwsd-broker not listening on {port}"
                    time.sleep(0.01)
        return self

    def kill(self):
        """SIGKILL; then a sanitizer report in its log fails the caller."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            with open(self.log, errors="replace") as f:
                san = [l.rstrip() for l in f if SANITIZER_REPORT.search(l)]
            assert not san, f"sanitizer report in {self.log}: {san[0]}"


async def chat_offline(ws, receiver, id, limit=2.0):
    """A chat to a user with no session must be acked `offline` - except in a
    broker's first second after a (re)start, when it cannot know yet and
    answers `unavailable` (zwsd-broker(8)). Retries through that second and
    fails past `limit` seconds; returns the number of `unavailable` answers."""
    t0 = time.monotonic()
    n = 0
    while True:
        await ws.send(chat(receiver, "x", id=f"{id}{n}"))
        f = await recv_json(ws)
        assert f.get("id") == f"{id}{n}", f
        if f.get("type") == "ack":
            assert f.get("status") == "offline", f
            return n
        assert f.get("type") == "error" and f.get("code") == "unavailable", f
        assert time.monotonic() - t0 < limit, f"still unavailable after {limit} s: {f}"
        n += 1
        await asyncio.sleep(0.05)       # pacing between attempts


async def place(daemon, user, pid, tries=50):
    """Connect `user` until the connection sits on worker `pid`."""
    for _ in range(tries):
        ws, welcome = await ws_connect(daemon, user)
        if worker_of(daemon, ws) == pid:
            return ws, welcome
        await asyncio.wait_for(ws.close(), WAIT)
    raise AssertionError(f"{user} never landed on worker {pid} in {tries} tries")


async def markers(via, via_user, targets, tag):
    """targets: [(ws, user)]. Send one chat per distinct user from `via`, then
    assert it is the next frame of every target session: nothing else was
    queued for them before it."""
    for user in dict.fromkeys(u for _, u in targets):
        await asyncio.wait_for(via.send(chat(user, f"{tag}:{user}")), WAIT)
    for ws, user in targets:
        f = await recv_json(ws)
        assert f.get("type") == "chat" and f.get("msg") == f"{tag}:{user}", \
            f"{user}: expected only the marker {tag!r} next, got {f}"
        check_chat(f, via_user, user, f"{tag}:{user}")


@pytest.fixture
def own_daemons(request):
    """Daemons built here (subclasses of the harness's Daemon), stopped and
    checked for leftovers at teardown like make_daemon's."""
    daemons = []
    request.node._zwsd_daemons = daemons
    yield daemons
    problems = []
    for d in daemons:
        problems += d.cleanup()
    assert not problems, "; ".join(problems)


# --------------------------------------------------------------------------
# raw WebSocket frames
def masked(opcode, payload, fin=True):
    """One client frame (masked), as RFC 6455 5.2 lays it out."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_ws(daemon, user, rcvbuf=None):
    """A raw upgraded socket: the 101 is read, nothing after it."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=WAIT)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.sendall(upgrade_request(daemon.port, path=f"/ws/{user}"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, f"closed during the upgrade: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def read_close_code(s):
    """Read server frames (unmasked) until a close frame; return its code."""
    s.settimeout(WAIT)
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            assert chunk, "connection ended without a close frame"
            buf += chunk

    while True:
        need(2)
        op, l7 = buf[0] & 0x0F, buf[1] & 0x7F
        hdr = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0)
        need(hdr)
        n = l7 if l7 < 126 else int.from_bytes(buf[2:hdr], "big")
        need(hdr + n)
        payload, buf = buf[hdr:hdr + n], buf[hdr + n:]
        if op == 0x8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
