"""36 — the documentation agrees with the binaries: each program's --help
and its man page's OPTIONS list the same flags; every option name the zwsd
config parser accepts is documented; the man pages pass mandoc's lint; the
systemd units pass systemd-analyze verify (except for the complaints about
files that only exist once installed)."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, ZWSD

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAN = os.path.join(ROOT, "man")
PROGRAMS = [("zwsd", "zwsd.8"), ("zwsd-broker", "zwsd-broker.8"), ("zwsd-send", "zwsd-send.1")]


def help_flags(program):
    p = subprocess.run([os.path.join(BUILD, program), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0, f"{program} --help exited {p.returncode}: {p.stderr}"
    flags = set(re.findall(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)", p.stdout))
    assert flags, f"no flags in {program} --help: {p.stdout!r}"
    return flags


def man_section(page, name):
    with open(os.path.join(MAN, page)) as f:
        text = f.read()
    m = re.search(rf"(?ms)^\.Sh {name}\n(.*?)(?=^\.Sh )", text)
    assert m, f"{page} has no {name} section"
    return m.group(1)


def man_option_flags(page):
    """Flags of the `.It` entries in OPTIONS: `.It Fl -name Ar x` is --name,
    `.It Fl h , Fl -help` is -h and --help."""
    flags = set()
    for line in man_section(page, "OPTIONS").splitlines():
        if line.startswith(".It "):
            flags |= {"-" + f for f in re.findall(r"\bFl (-?[A-Za-z][A-Za-z0-9-]*)", line)}
    assert flags, f"no flags in the OPTIONS of {page}"
    return flags


@pytest.mark.parametrize("program,page", PROGRAMS, ids=[p for p, _ in PROGRAMS])
def test_help_and_man_page_list_the_same_flags(program, page):
    helped, documented = help_flags(program), man_option_flags(page)
    assert not helped - documented, \
        f"in `{program} --help` but not in the OPTIONS of {page}: {sorted(helped - documented)}"
    assert not documented - helped, \
        f"in the OPTIONS of {page} but not in `{program} --help`: {sorted(documented - helped)}"


def config_accepts(name, value):
    """Does the config parser accept `name = value`? Black box: a second line
    holds an option that does not exist, so the one error line names that
    second option exactly when the first line was accepted."""
    with tempfile.TemporaryDirectory(prefix="zwdoc") as tmp:
        conf = os.path.join(tmp, "zwsd.conf")
        with open(conf, "w") as f:
            f.write(f"{name} = {value}\nzz-no-such-option = 1\n")
        p = subprocess.run([ZWSD, "--config", conf, "--runtime-dir", os.path.join(tmp, "run")],
                           capture_output=True, text=True, timeout=10)
    assert p.returncode == 2, f"{name} = {value}: exit {p.returncode}: {p.stderr}"
    return "zz-no-such-option" in p.stderr


# A valid value for each option, to feed the config parser.
VALUES = {
    "history-size": "10", "history-ttl": "60", "history-memory": "1048576",
    "bus-hwm": "1000", "bus-batch-us": "100", "turn-us": "250", "listen": "127.0.0.1:1", "workers": "1", "runtime-dir": "/tmp/zw-doc-test",
    "broker": "tcp://127.0.0.1:1,tcp://127.0.0.1:2", "max-message": "1000",
    "sessions": "multi", "api-listen": "off", "api-key-file": "/etc/hostname",
    "allow-client-broadcast": "yes", "demo": "on", "max-groups": "3", "rate-limit": "5",
    "max-outbound": "65536", "shutdown-timeout": "5", "verbose": "1", "config": "/etc/hostname",
    "help": "yes", "version": "yes",
    "jwt-secret-file": os.path.join(os.path.dirname(__file__), "data", "jwt-test.secret"),
    "jwt-public-key-file": os.path.join(os.path.dirname(__file__), "data", "jwt-test-es256.pub"),
    "jwt-leeway": "10", "allowed-origins": "https://a.example, http://localhost:3000",
    "handshake-timeout": "5", "max-head": "4096", "max-conns-per-ip": "10", "max-conns": "1000",
    # test-only certificates (zwsd-broker --make-cert): a client's secret one,
    # a broker's public one
    "broker-curve": ",".join(os.path.join(os.path.dirname(__file__), "data", f)
                             for f in ("curve-test-client_secret", "curve-test-broker")),
}


def test_config_file_options_are_documented():
    """Every long option of `zwsd --help` except --config, --help and
    --version is accepted in the config file, and so is `verbose = N`; all
    of them are documented in zwsd(8): the long options in OPTIONS, and
    `verbose` in CONFIGURATION FILE."""
    longs = {f[2:] for f in help_flags("zwsd") if f.startswith("--")}
    candidates = longs | {f[2:] for f in man_option_flags("zwsd.8") if f.startswith("--")} \
        | {"verbose"}
    unknown = candidates - set(VALUES)
    assert not unknown, f"add a valid value for {sorted(unknown)} to VALUES in this test"
    accepted = {n for n in sorted(candidates) if config_accepts(n, VALUES[n])}
    assert accepted == (longs - {"config", "help", "version"}) | {"verbose"}, \
        f"the config parser accepts {sorted(accepted)}"
    options = man_option_flags("zwsd.8")
    undocumented = {n for n in accepted if n != "verbose" and "--" + n not in options}
    assert not undocumented, f"config options missing from OPTIONS of zwsd(8): {undocumented}"
    cfg = man_section("zwsd.8", "CONFIGURATION FILE")
    assert re.search(r"\bverbose = ", cfg), "`verbose = N` is not documented in CONFIGURATION FILE"


def test_mandoc_lint_is_clean():
    if not shutil.which("mandoc"):
        pytest.skip("mandoc is not installed")
    pages = sorted(glob.glob(os.path.join(MAN, "*.[1-9]")))
    assert pages
    p = subprocess.run(["mandoc", "-Tlint", "-Wwarning"] + pages, capture_output=True,
                       text=True, timeout=30)
    assert p.stdout + p.stderr == "", p.stdout + p.stderr


def test_systemd_units_verify():
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    units = sorted(glob.glob(os.path.join(ROOT, "dist", "*.service")))
    assert units
    p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True,
                       timeout=60)
    # not installed here: the binaries under /usr/local/bin and the man pages
    allowed = re.compile(r"is not executable: No such file or directory$"
                         r"|Command 'man [^']+' failed with code \d+$")
    left = [line for line in (p.stdout + p.stderr).splitlines()
            if line.strip() and not allowed.search(line)]
    assert not left, "systemd-analyze verify:\n" + "\n".join(left)
