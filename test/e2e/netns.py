"""Hosts on a network, for end-to-end tests that need a real cluster: each host
is a Linux network namespace with one address on a private bridge, so the
broker, every daemon and every backend has its own address, loopback and
ports, as separate machines would.

    with Net(["broker", "a", "b"]) as net:
        net["a"].ip                     # 10.213.N.11
        net["a"].run([ZWSD_SEND, ...])  # a command run on host a

The bridge's own address (10.213.N.1) is the test process's, in the root
namespace: pytest's clients reach every host's listeners directly, no
forwarding, no NAT, nothing changed outside the test's own interfaces (no
sysctl). Processes on a host are started with `ip netns exec NS prog ...`,
which execs prog (no extra process), so a Popen's pid is the program's.

Needs root and iproute2; available() says why not, for a pytest.skip. Names
carry the pytest process's pid, so two runs at once never collide; pids
repeat across runs, so setup first removes whatever an earlier run of the same
pid left under this net's exact names, and teardown removes the namespaces,
both ends of every veth and the bridge, whether or not a namespace outlived
its `ip netns del` (a process still exiting in it keeps it, and its veth).
"""
import os
import shutil
import subprocess

from conftest import ZWSD, Daemon, ExtBroker, WAIT, free_port

PREFIX = "10.213"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def available():
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "iproute2's ip is not installed"
    name = f"zwprobe{os.getpid()}"
    p = _ip("netns", "add", name, check=False)
    if p.returncode != 0:
        return f"cannot create a network namespace: {p.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


class Host:
    def __init__(self, name, ns, ip):
        self.name, self.ns, self.ip = name, ns, ip

    def cmd(self, argv):
        """argv run on this host."""
        return ["ip", "netns", "exec", self.ns] + [str(a) for a in argv]

    def run(self, argv, timeout=15):
        return subprocess.run(self.cmd(argv), capture_output=True, text=True, timeout=timeout)


class Net:
    def __init__(self, names):
        self.tag = f"zw{os.getpid() % 100000}"
        self.names = list(names)
        self.hosts = {}
        self.bridge = f"{self.tag}br"
        self.subnet = None

    def _free_subnet(self):
        used = _ip("-o", "addr").stdout
        for n in range(os.getpid() % 200, 256):
            if f" {PREFIX}.{n}." not in used:
                return f"{PREFIX}.{n}"
        raise AssertionError(f"no free {PREFIX}.N.0/24 for the test network")

    def _links(self):
        """This net's root-namespace interface names: bridge, veth ends."""
        return [self.bridge] + [f"{self.tag}{end}{i}"
                                for i in range(len(self.names)) for end in "hn"]

    def _remove(self):
        for name in self.names:
            _ip("netns", "del", f"{self.tag}-{name}", check=False)
        for link in self._links():      # deleting one veth end deletes its peer
            _ip("link", "del", link, check=False)

    def __enter__(self):
        self._remove()                  # an earlier run's leftovers, same pid
        try:
            self.subnet = self._free_subnet()
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i, name in enumerate(self.names):
                ns, outer, inner = f"{self.tag}-{name}", f"{self.tag}h{i}", f"{self.tag}n{i}"
                _ip("netns", "add", ns)
                self.hosts[name] = Host(name, ns, f"{self.subnet}.{10 + i}")
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                _ip("link", "set", inner, "netns", ns)
                _ip("link", "set", outer, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{self.hosts[name].ip}/24", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for h in self.hosts.values():
            pids = _ip("netns", "pids", h.ns, check=False).stdout.split()
            for pid in pids:            # stragglers only: daemons are stopped first
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
        self._remove()
        self.hosts.clear()

    def __getitem__(self, name):
        return self.hosts[name]


class NsDaemon(Daemon):
    """The harness's Daemon, run on a Host: listener and HTTP API on the host's
    address (clients connect there: Daemon.host), everything else as usual."""

    def __init__(self, host, args=(), workers=1, log_path=None):
        super().__init__(args, workers=workers, log_path=log_path)
        self.on = host
        self.host = host.ip
        self.api_port = free_port()

    def argv(self):
        return self.on.cmd([ZWSD, "--listen", f"{self.host}:{self.port}",
                            "--workers", self.workers, "--runtime-dir", self.tmpdir,
                            "--api-listen", f"{self.host}:{self.api_port}", "-v"] + self.extra)

    def launch(self, until, timeout=10):
        """Start without waiting for "ready:" (a daemon that never reaches its
        broker does not get there): wait for a log line matching until."""
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._logf = open(self.log_path, "w", encoding="utf-8")
        self.port = free_port()
        self._spawn()
        return self.wait_log(until, timeout=timeout)

    def api(self, path, body=None):
        """(status, body text) of one HTTP request to this daemon's API."""
        import urllib.error
        import urllib.request
        req = urllib.request.Request(f"http://{self.host}:{self.api_port}{path}",
                                     data=body.encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


class NsBroker(ExtBroker):
    """zwsd-broker on a Host, on tcp://HOST_IP:PORT endpoints."""

    def __init__(self, host, log, args=()):
        super().__init__(log, args=args)
        self.on = host

    @property
    def endpoints(self):
        return f"tcp://{self.on.ip}:{self.pub}", f"tcp://{self.on.ip}:{self.sub}"

    def start(self):
        import socket
        import time
        from conftest import ZWSD_BROKER
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        pub, sub = self.endpoints
        with open(self.log, "a") as f:
            self.proc = subprocess.Popen(
                self.on.cmd([ZWSD_BROKER, "--pub", pub, "--sub", sub, "-v"] + self.args),
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + WAIT
        for port in (self.pub, self.sub):       # bound: both accept TCP from here
            while True:
                assert self.proc.poll() is None, \
                    f"zwsd-broker exited {self.proc.returncode}: {self.log_text()[-2000:]}"
                try:
                    socket.create_connection((self.on.ip, port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, \
                        f"zwsd-broker on {self.on.ip}:{port} is not reachable over the test bridge"
                    time.sleep(0.01)
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, count=1, timeout=WAIT):
        """Wait until the broker's log (a file) holds count lines matching the
        regex; returns them. The log is re-read every 20 ms up to timeout."""
        import re
        import time
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.log_text().splitlines() if rx.search(l)]
            if len(lines) >= count:
                return lines
            assert self.proc.poll() is None, f"zwsd-broker exited {self.proc.returncode}"
            assert time.monotonic() < deadline, \
                f"{len(lines)} of {count} broker log lines matching {pattern!r} within {timeout} s:\n" \
                + self.log_text()[-3000:]
            time.sleep(0.02)


# --------------------------------------------------------------------------
# cutting a host off the network and back (test_46)

def _outer_veth(net, name):
    """The bridge end of host `name`'s veth (in the root namespace)."""
    return f"{net.tag}h{net.names.index(name)}"


def link_down(net, name):
    """Cut host `name` off: the bridge end of its veth goes down, so nothing
    passes either way. Its processes run on and their TCP connections see
    silence, not resets, as with a pulled cable."""
    _ip("link", "set", _outer_veth(net, name), "down")


def link_up(net, name):
    """Undo link_down(): the host is on the bridge again, same address."""
    _ip("link", "set", _outer_veth(net, name), "up")
