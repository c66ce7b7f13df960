"""py_harness.py: real processes for the Python client's tests.

Starts the mock analyzer fleet and sluiced as child processes on loopback,
as tests/e2e/e2e.c does for the C tests: the API and PUB sockets are ipc://
files in the test's temporary directory (no port to collide on), the
mock's replicas take ports the kernel gives them (it prints them), and the
progress listener gets a port below the kernel's ephemeral range checked
free with bind (a port in that range can be taken by the mock's own
outgoing pushes while sluiced restarts). Every wait has a deadline; every
child is stopped by pid (SIGTERM, a bounded wait, then SIGKILL).
Imports sluice_client from the source tree (tools/python) when PYTHONPATH
does not already provide it.
"""
import os
import random
import importlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
SERVICES = ("static-analyzer", "dynamic-analyzer", "performance-tester", "ai-analyzer",
            "generator")
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SLUICE_SOURCE_DIR") or os.path.join(HERE, "..", "..")

try:
    import sluice_client  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "python"))


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def locate(env, name):
    path = os.environ.get(env, "")
    if path:
        return path
    build = os.environ.get("SLUICE_BUILD_DIR", "")
    return os.path.join(build, "tools", name) if build else ""


def binaries(log):
    """(sluiced, mock, keygen) paths, or None when sluiced is not built
    (the caller skips); a missing mock or keygen is a failure."""
    sluiced = locate("SLUICED", "sluiced")
    if not sluiced or not os.access(sluiced, os.X_OK):
        print("SKIP: the sluiced binary is missing (%r); build the sluiced target"
              % (sluiced or "SLUICED/SLUICE_BUILD_DIR unset"))
        return None
    mock = locate("SLUICE_MOCK", "sluice-mock-analyzer")
    keygen = locate("SLUICE_KEYGEN", "sluice-keygen")
    for name, path in (("sluice-mock-analyzer", mock), ("sluice-keygen", keygen)):
        if not path or not os.access(path, os.X_OK):
            raise Fail("%s is missing (%r)" % (name, path))
    return sluiced, mock, keygen


def free_port():
    """A free loopback port below the ephemeral range (see the top)."""
    lo = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            first = int(f.read().split()[0])
            if first > 2048:
                lo = first
    except (OSError, ValueError, IndexError):
        pass
    base = lo - 10000 if lo > 12000 else 1024
    rng = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(200):
        port = rng.randrange(base, lo)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise Fail("no free port below %d" % lo)


def read_lines_until(proc, want, deadline, seen):
    """Reads proc's stdout line by line until a line starts with want."""
    buf = b""
    stream = proc.stdout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Fail("%s exited with %s before '%s'" % (proc.args[0], proc.returncode, want))
        r, _, _ = select.select([stream], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            raise Fail("%s closed its output before '%s'" % (proc.args[0], want))
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            seen.append(text)
            if text.startswith(want):
                return
    raise Fail("no '%s' from %s in time; got: %s" % (want, proc.args[0], seen[-10:]))


def stop(proc, name, log):
    """SIGTERM by pid, bounded wait, then SIGKILL. Returns the exit code."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) ignored SIGTERM for 15 s: SIGKILL" % (name, proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        return "killed"


def clean_env():
    # The fleet's *_URLS overrides would win over the configuration file.
    return {k: v for k, v in os.environ.items() if not k.endswith("_URLS")}


class Fleet:
    """The mock fleet, incident-shaped, on ports the kernel gives it."""

    def __init__(self, tmp, mock_path, gateway, log, args=()):
        self.proc = subprocess.Popen(
            [mock_path, "--fleet", "incident", "--gateway", gateway] + list(args),
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "mock.log"), "ab"),
            env=clean_env())
        seen = []
        read_lines_until(self.proc, "ready", time.monotonic() + 20, seen)
        self.urls = {s: [] for s in SERVICES}
        for line in seen:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "replica" and parts[1] in self.urls:
                self.urls[parts[1]].append(parts[2])
        for s in SERVICES:
            check(self.urls[s], "the mock printed no replica for %s: %s" % (s, seen))
        log("mock fleet pid %d: %s" % (self.proc.pid, {s: len(u) for s, u in self.urls.items()}))


class Daemon:
    """sluiced on ipc:// API and PUB sockets in tmp, with a configuration
    file; start() may be called again after stop() (a restart on the same
    data directory)."""

    def __init__(self, tmp, sluiced_path, fleet, progress, log, extra=()):
        self.tmp = tmp
        self.path = sluiced_path
        self.log = log
        self.api = "ipc://%s/api.sock" % tmp
        self.pub = "ipc://%s/pub.sock" % tmp
        self.conf = os.path.join(tmp, "sluiced.conf")
        self.proc = None
        lines = ["sluice", '    data_dir = "%s"' % os.path.join(tmp, "data"),
                 "api", '    endpoint = "%s"' % self.api, '    pub = "%s"' % self.pub,
                 "progress", '    listen = "%s"' % progress, "services"]
        for service in SERVICES:
            lines.append("    %s" % service)
            lines.append('        urls = "%s"' % ",".join(fleet.urls[service]))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.extra = list(extra)

    def start(self):
        args = [self.path, "--config", self.conf]
        for kv in self.extra:
            args += ["--set", kv]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.tmp, "sluiced.log"), "ab"),
                                     env=clean_env())
        read_lines_until(self.proc, "sluiced: ready", time.monotonic() + 20, [])
        self.log("sluiced pid %d: api %s pub %s" % (self.proc.pid, self.api, self.pub))

    def stop(self):
        code = stop(self.proc, "sluiced", self.log)
        self.proc = None
        return code


def dump_logs(tmp, log):
    for name in ("sluiced.log", "mock.log"):
        path = os.path.join(tmp, name)
        if os.environ.get("SLUICE_PY_VERBOSE") and os.path.exists(path):
            with open(path, errors="replace") as f:
                log("---- %s ----\n%s" % (name, f.read()[-4000:]))


def stop_all(daemon, fleet, log):
    """Stops sluiced first (so it does not spend its grace on a vanished
    fleet), then the mock, each by pid; logs and returns the exit codes."""
    codes = {"sluiced": daemon.stop() if daemon else None,
             "mock": stop(fleet.proc, "mock", log) if fleet else None}
    log("stopped by pid: %s" % codes)
    return codes


def main(name, run, log, modules=("sluice_client",)):
    """A test program's main: finds the binaries (SKIP when sluiced is not
    built), imports modules, then returns run(tmp, sluiced, mock, keygen)
    in a fresh temporary directory, kept (and named) when the run raised."""
    try:
        found = binaries(log)
        if found is None:
            return SKIP
        for module in modules:
            importlib.import_module(module)
    except ImportError as e:
        log("FAIL: %s (install Debian's python3-zmq and python3-msgpack; run with "
            "/usr/bin/python3)" % e)
        return 1
    except Fail as e:
        log("FAIL: %s" % e)
        return 1
    tmp = tempfile.mkdtemp(prefix="%s." % name)
    try:
        return run(tmp, *found)
    except Exception as e:
        log("FAIL: %s: %s" % (type(e).__name__, e))
        log("logs kept in %s" % tmp)
        tmp = None
        return 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
