#!/usr/bin/python3
"""test_python_client.py: a client sluice did not write, against the real daemon.

Uses only Debian's python3-zmq and python3-msgpack (no sluice code) to check
that the documented API contract is enough for any client: it starts the mock
analyzer fleet (incident shape) and sluiced on free loopback ports with a
temporary data directory, subscribes to the PUB socket, submits the incident's
pipeline (1 model x 3 templates x 4 analyzers), waits (bounded) for the final
pipeline.status event, and checks the events against pipeline.get:

  - the final status of the event equals pipeline.get's status;
  - every task's last task.status event equals its status in pipeline.get;
  - seqs are strictly increasing without gaps (a gap seen on PUB is filled
    with events.since, as a monitor must; the test also ignores every 7th
    event on purpose so that path always runs), and what PUB delivered
    equals what the store replays for the same seqs.

Both processes are stopped by pid (SIGTERM, then SIGKILL after a deadline).
Exit 0 pass, 1 fail, 77 skip: only when the sluiced binary does not exist.
Environment: SLUICED, SLUICE_MOCK (binaries; default: SLUICE_BUILD_DIR/tools/),
SLUICE_SOURCE_DIR (for tests/data/requests/incident.json).
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
DEADLINE_S = float(os.environ.get("SLUICE_PY_DEADLINE_S", "120"))
REQUEST_TIMEOUT_MS = 10000
DROP_EVERY = 7  # PUB events this test pretends it never saw
FINAL = ("completed", "partial_success", "failed", "cancelled")
SERVICES = ("static-analyzer", "dynamic-analyzer", "performance-tester", "ai-analyzer",
            "generator")


def log(*args):
    print("test_python_client:", *args, file=sys.stderr, flush=True)


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


def free_port():
    # Bound then released: the port is free for the child to take. A race
    # with another process is possible but rare on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_lines_until(proc, stream, want, deadline, seen):
    """Reads proc's stream line by line until a line starts with want."""
    buf = b""
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


def stop(proc, name):
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


class Client:
    """The API over a DEALER socket, one msgpack map per request."""

    def __init__(self, ctx, endpoint):
        import zmq
        self.zmq = zmq
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.n = 0

    def call(self, op, **fields):
        self.n += 1
        rid = "py-%d" % self.n
        req = dict(fields, op=op, id=rid)
        import msgpack
        self.sock.send(msgpack.packb(req, use_bin_type=True))
        deadline = time.monotonic() + REQUEST_TIMEOUT_MS / 1000.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise Fail("%s: no reply within %d ms" % (op, REQUEST_TIMEOUT_MS))
            frames = self.sock.recv_multipart()
            reply = msgpack.unpackb(frames[-1], raw=False)
            check(isinstance(reply, dict), "%s: the reply is not a map: %r" % (op, reply))
            if reply.get("id") != rid:
                continue  # a late reply to an earlier request
            return reply

    def ok(self, op, **fields):
        reply = self.call(op, **fields)
        check(reply.get("ok") is True, "%s failed: %r" % (op, reply.get("error")))
        return reply

    def events_since(self, seq, upto=None):
        """Every stored event after seq (up to upto inclusive), paging."""
        out = []
        while True:
            reply = self.ok("events.since", seq=seq, limit=1000)
            events = reply.get("events")
            check(isinstance(events, list), "events.since: 'events' is not a list")
            for ev in events:
                check(isinstance(ev, dict) and isinstance(ev.get("seq"), int),
                      "events.since: an event without an integer seq: %r" % (ev,))
                if upto is not None and ev["seq"] > upto:
                    return out
                out.append(ev)
            if not events or not reply.get("more"):
                return out
            seq = events[-1]["seq"]


def write_config(path, data_dir, api, pub, progress, urls):
    lines = [
        "sluice",
        '    data_dir = "%s"' % data_dir,
        "api",
        '    endpoint = "%s"' % api,
        '    pub = "%s"' % pub,
        "progress",
        '    listen = "%s"' % progress,
        "services",
    ]
    for service in SERVICES:
        lines.append("    %s" % service)
        lines.append('        urls = "%s"' % ",".join(urls[service]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def load_request():
    src = os.environ.get("SLUICE_SOURCE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "tests", "data", "requests", "incident.json")) as f:
        seed = json.load(f)
    req = {"name": seed.get("name", "python client"),
           "config": {"generation": seed["generation"], "analysis": seed["analysis"]}}
    for key in ("timeouts", "retry"):
        if key in seed:
            req[key] = seed[key]
    return req


def run(tmp, sluiced_path, mock_path):
    import msgpack
    import zmq

    api = "tcp://127.0.0.1:%d" % free_port()
    pub = "tcp://127.0.0.1:%d" % free_port()
    progress = "ws://127.0.0.1:%d" % free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_URLS")}  # the fleet's overrides would win over the file
    procs = {}
    try:
        # The mock fleet, incident-shaped, on any free ports.
        mock = subprocess.Popen(
            [mock_path, "--fleet", "incident", "--gateway", progress,
             "--latency", "300-900", "--progress", "100"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "mock.log"), "wb"),
            env=env)
        procs["mock"] = mock
        seen = []
        read_lines_until(mock, mock.stdout, "ready", time.monotonic() + 20, seen)
        urls = {s: [] for s in SERVICES}
        for line in seen:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "replica" and parts[1] in urls:
                urls[parts[1]].append(parts[2])
        for s in SERVICES:
            check(urls[s], "the mock printed no replica for %s: %s" % (s, seen))
        log("mock fleet pid %d: %s" % (mock.pid, {s: len(u) for s, u in urls.items()}))

        conf = os.path.join(tmp, "sluiced.conf")
        write_config(conf, os.path.join(tmp, "data"), api, pub, progress, urls)
        daemon = subprocess.Popen(
            [sluiced_path, "--config", conf], stdout=subprocess.PIPE,
            stderr=open(os.path.join(tmp, "sluiced.log"), "wb"), env=env)
        procs["sluiced"] = daemon
        read_lines_until(daemon, daemon.stdout, "sluiced: ready", time.monotonic() + 20, [])
        log("sluiced pid %d: api %s pub %s" % (daemon.pid, api, pub))

        ctx = zmq.Context()
        try:
            return follow(ctx, api, pub, msgpack, zmq)
        finally:
            ctx.destroy(linger=0)
    finally:
        # The daemon first, so it does not spend its grace on a vanished fleet.
        codes = {name: stop(p, name) for name, p in reversed(list(procs.items()))}
        log("stopped by pid: %s" % codes)
        if codes.get("sluiced") not in (None, 0):
            log("sluiced did not exit 0 on SIGTERM (%s)" % codes["sluiced"])
        for name in ("sluiced.log", "mock.log"):
            path = os.path.join(tmp, name)
            if os.environ.get("SLUICE_PY_VERBOSE") and os.path.exists(path):
                with open(path, errors="replace") as f:
                    log("---- %s ----\n%s" % (name, f.read()[-4000:]))


def follow(ctx, api, pub, msgpack, zmq):
    client = Client(ctx, api)
    check(client.ok("ping").get("pong") is True, "ping: no pong")

    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    # Wait (bounded) for the SUB's handshake so the first events are not lost
    # to the slow-joiner window; whatever is still lost is filled below with
    # events.since, as the contract says a monitor must.
    monitor = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_CONNECTED)
    sub.connect(pub)
    if monitor.poll(5000):
        monitor.recv_multipart()
    sub.disable_monitor()
    monitor.close(linger=0)

    reply = client.ok("pipeline.start", **load_request())
    pid = reply.get("pipeline_id")
    check(isinstance(pid, str) and pid, "pipeline.start: no pipeline_id: %r" % reply)
    check(reply.get("id") == "py-%d" % client.n, "pipeline.start: the reply lost our id")
    log("pipeline %s started" % pid)

    events = {}   # seq -> (topic, body) as delivered on PUB or by replay
    via_pub = {}  # seq -> body, only what PUB delivered
    last = 0
    final = None
    deadline = time.monotonic() + DEADLINE_S
    def fold(new_events, upto_seq):
        """Records replayed events; returns the final status among them."""
        found = None
        for ev in new_events:
            events[ev["seq"]] = (ev.get("topic"), ev)
            if (ev.get("topic") == "pipeline.status" and ev.get("pipeline_id") == pid
                    and ev.get("status") in FINAL):
                found = ev
        return found

    while final is None:
        left = deadline - time.monotonic()
        check(left > 0, "no final pipeline.status event within %.0f s (last seq %d; %r)"
              % (DEADLINE_S, last, client.call("pipeline.get", pipeline_id=pid)))
        if not sub.poll(int(min(left, 1.0) * 1000) + 1):
            # Quiet for a second: the last event may be the one that was
            # lost, and no later one will reveal the gap. Ask the store.
            tail = client.events_since(last)
            if tail:
                final = fold(tail, None)
                last = tail[-1]["seq"]
                log("caught up seqs to %d with events.since" % last)
            continue
        frames = sub.recv_multipart()
        check(len(frames) == 2, "a PUB message of %d frames" % len(frames))
        topic = frames[0].decode()
        body = msgpack.unpackb(frames[1], raw=False)
        check(isinstance(body, dict), "a PUB body that is not a map")
        seq = body.get("seq")
        check(isinstance(seq, int) and seq > 0, "an event without a positive seq: %r" % body)
        check(isinstance(body.get("ts"), int), "an event without an integer ts: %r" % body)
        if seq % DROP_EVERY == 0 and seq not in events:
            # Simulated loss: the gap-filling path runs on every pass, not
            # only when PUB happens to drop something.
            continue
        via_pub[seq] = body
        if seq <= last:
            check(seq in events, "seq %d went backwards on PUB (last %d)" % (seq, last))
            continue
        if seq > last + 1:
            # A gap (including the events before we joined): replay it.
            final = fold(client.events_since(last, upto=seq - 1), seq - 1)
            log("filled seqs %d..%d with events.since" % (last + 1, seq - 1))
        events[seq] = (topic, body)
        last = seq
        if (topic == "pipeline.status" and body.get("pipeline_id") == pid
                and body.get("status") in FINAL):
            final = body
    log("final event: seq %d status %s; %d events, %d via PUB"
        % (final["seq"], final["status"], len(events), len(via_pub)))

    # Seqs strictly increasing, no gaps from the first stored event on.
    seqs = sorted(events)
    check(seqs[0] == 1, "the first event is seq %d, not 1 (fresh data dir)" % seqs[0])
    check(seqs == list(range(1, seqs[-1] + 1)),
          "seq gaps remain: %s" % sorted(set(range(1, seqs[-1] + 1)) - set(seqs)))

    # What PUB delivered is what the store replays.
    stored = {ev["seq"]: ev for ev in client.events_since(0, upto=seqs[-1])}
    check(sorted(stored) == seqs, "events.since(0) does not replay seqs 1..%d" % seqs[-1])
    for seq, body in via_pub.items():
        ev = stored[seq]
        check(ev.get("topic") == events[seq][0],
              "seq %d: topic %r on PUB, %r in the store" % (seq, events[seq][0], ev.get("topic")))
        for key, value in body.items():
            check(ev.get(key) == value, "seq %d: %s=%r on PUB, %r in the store"
                  % (seq, key, value, ev.get(key)))

    # The events agree with pipeline.get.
    pipeline = client.ok("pipeline.get", pipeline_id=pid).get("pipeline")
    check(isinstance(pipeline, dict), "pipeline.get: no pipeline map")
    check(pipeline.get("id") == pid, "pipeline.get: id %r" % pipeline.get("id"))
    check(pipeline.get("status") == final["status"],
          "pipeline.get says %r, the final event %r" % (pipeline.get("status"), final["status"]))
    tasks = pipeline.get("tasks")
    check(isinstance(tasks, list) and tasks, "pipeline.get: no tasks")
    last_status = {}
    last_progress = {}
    for seq in seqs:
        topic, ev = events[seq]
        if topic == "task.status" and ev.get("pipeline_id") == pid:
            last_status[ev.get("task_id")] = ev.get("status")
        if topic == "task.progress" and ev.get("pipeline_id") == pid:
            pct = ev.get("pct")
            check(pct is None or (isinstance(pct, int) and 0 <= pct <= 100),
                  "seq %d: task.progress pct %r (null or 0..100)" % (seq, pct))
            last_progress[ev.get("task_id")] = {k: ev.get(k) for k in ("stage", "pct", "message")}
        if topic in ("pipeline.status", "task.status", "task.progress"):
            check(ev.get("pipeline_id") is not None, "seq %d: %s without pipeline_id" % (seq, topic))
    gen = [t for t in tasks if t.get("kind") == "generation"]
    ana = [t for t in tasks if t.get("kind") == "analysis"]
    check(len(gen) == 3, "expected 3 generation tasks (1 model x 3 templates), got %d" % len(gen))
    made = sum(1 for t in gen if t.get("status") == "succeeded")
    check(len(ana) == 4 * made, "expected 4 analyses per generated app: %d apps, %d analyses"
          % (made, len(ana)))
    for t in tasks:
        tid = t.get("id")
        check(tid in last_status, "task %s has no task.status event" % tid)
        check(last_status[tid] == t.get("status"),
              "task %s: last task.status event %r, pipeline.get %r"
              % (tid, last_status[tid], t.get("status")))
    # A finished task's last task.progress is what pipeline.get shows.
    for t in tasks:
        tid = t.get("id")
        if tid in last_progress:
            shown = {k: (t.get("progress") or {}).get(k) for k in ("stage", "pct", "message")}
            check(last_progress[tid] == shown, "task %s: last task.progress %r, pipeline.get %r"
                  % (tid, last_progress[tid], shown))
    check(last_progress, "no task.progress event at all")
    check(set(last_status) == {t.get("id") for t in tasks},
          "task.status events name tasks pipeline.get does not have: %s"
          % (set(last_status) - {t.get("id") for t in tasks}))
    log("ok: %s, %d tasks (%s), %d events checked"
        % (final["status"], len(tasks),
           ", ".join("%s %d" % (s, sum(1 for t in tasks if t.get("status") == s))
                     for s in sorted({t.get("status") for t in tasks})), len(seqs)))
    return 0


def main():
    sluiced = locate("SLUICED", "sluiced")
    if not sluiced or not os.access(sluiced, os.X_OK):
        print("SKIP: the sluiced binary is missing (%r); build the sluiced target"
              % (sluiced or "SLUICED/SLUICE_BUILD_DIR unset"))
        return SKIP
    mock = locate("SLUICE_MOCK", "sluice-mock-analyzer")
    if not mock or not os.access(mock, os.X_OK):
        log("FAIL: sluice-mock-analyzer is missing (%r)" % mock)
        return 1
    try:
        import msgpack  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as e:
        log("FAIL: %s (install Debian's python3-zmq and python3-msgpack; run with "
            "/usr/bin/python3)" % e)
        return 1
    tmp = tempfile.mkdtemp(prefix="test_python_client.")
    try:
        return run(tmp, sluiced, mock)
    except Fail as e:
        log("FAIL: %s" % e)
        log("logs kept in %s" % tmp)
        tmp = None
        return 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
