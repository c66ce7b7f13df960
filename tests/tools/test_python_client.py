#!/usr/bin/python3
"""test_python_client.py: the Python client (tools/python) against the real daemon.

Uses sluice_client, which needs only Debian's python3-zmq and
python3-msgpack, so it checks both the package and that the documented API
contract is enough for a client: it starts the mock analyzer fleet
(incident shape) and sluiced (tests/tools/py_harness.py), follows the event
stream from seq 0 with an EventStream, submits the incident's pipeline
(1 model x 3 templates x 4 analyzers), reads events (bounded) until the
final pipeline.status, and checks the events against pipeline.get:

  - the final status of the event equals pipeline.get's status;
  - every task's last task.status event equals its status in pipeline.get,
    its last task.progress equals its progress there;
  - every PUB message is two frames, a map with a positive seq and an
    integer ts;
  - seqs are strictly increasing without gaps from 1 (the stream fills a gap
    seen on PUB with events.since; this test also ignores every 7th PUB
    event on purpose so that path always runs, and checks that it did),
    and what PUB delivered equals what the store replays for the same seqs.

Both processes are stopped by pid (SIGTERM, then SIGKILL after a deadline).
Exit 0 pass, 1 fail, 77 skip: only when the sluiced binary does not exist.
Environment: SLUICED, SLUICE_MOCK, SLUICE_KEYGEN (binaries; default:
SLUICE_BUILD_DIR/tools/), SLUICE_SOURCE_DIR (for tests/data/requests/incident.json
and tools/python), SLUICE_PY_DEADLINE_S, SLUICE_PY_VERBOSE.
"""
import json
import os
import sys
import time

import py_harness as h

DEADLINE_S = float(os.environ.get("SLUICE_PY_DEADLINE_S", "120"))
REQUEST_TIMEOUT_S = 10.0
DROP_EVERY = 7  # PUB events this test pretends it never saw


def log(*args):
    print("test_python_client:", *args, file=sys.stderr, flush=True)


check = h.check
Fail = h.Fail


def load_request():
    with open(os.path.join(h.SOURCE_DIR, "tests", "data", "requests", "incident.json")) as f:
        seed = json.load(f)
    req = {"name": seed.get("name", "python client"),
           "config": {"generation": seed["generation"], "analysis": seed["analysis"]}}
    for key in ("timeouts", "retry"):
        if key in seed:
            req[key] = seed[key]
    return req


def lossy_stream(client, since, timeout):
    """An EventStream whose PUB side checks every message's shape, records
    it, and loses every 7th seq the first time it comes."""
    import msgpack
    from sluice_client import EventStream

    class Lossy(EventStream):
        via_pub = {}  # seq -> body, what PUB delivered
        dropped = 0

        def _receive(self):
            frames = self._sub.recv_multipart()
            check(len(frames) == 2, "a PUB message of %d frames" % len(frames))
            body = msgpack.unpackb(frames[1], raw=False)
            check(isinstance(body, dict), "a PUB body that is not a map")
            seq = body.get("seq")
            check(isinstance(seq, int) and seq > 0, "an event without a positive seq: %r" % body)
            check(isinstance(body.get("ts"), int), "an event without an integer ts: %r" % body)
            check(body.get("topic") == frames[0].decode(),
                  "seq %d: topic frame %r, body topic %r" % (seq, frames[0], body.get("topic")))
            if seq % DROP_EVERY == 0 and seq not in self.via_pub and seq > (self.last or 0):
                self.via_pub[seq] = None
                Lossy.dropped += 1
                return None
            self.via_pub[seq] = body
            return body

    return Lossy(client, since, timeout, 1.0)


def follow(client):
    from sluice_client import FINAL

    check(client.ping().get("pong") is True, "ping: no pong")
    stream = lossy_stream(client, 0, DEADLINE_S)
    try:
        reply = client.call("pipeline.start", **load_request())
        pid = reply.get("pipeline_id")
        check(isinstance(pid, str) and pid, "pipeline.start: no pipeline_id: %r" % reply)
        check("id" in reply, "pipeline.start: the reply lost our id")
        log("pipeline %s started" % pid)

        events = []
        final = None
        deadline = time.monotonic() + DEADLINE_S
        for ev in stream:
            events.append(ev)
            if (ev.get("topic") == "pipeline.status" and ev.get("pipeline_id") == pid
                    and ev.get("status") in FINAL):
                final = ev
                break
            check(time.monotonic() < deadline,
                  "no final pipeline.status event within %.0f s (last seq %d; %r)"
                  % (DEADLINE_S, ev["seq"], client.call("pipeline.get", pipeline_id=pid)))
        via_pub = {s: b for s, b in stream.via_pub.items() if b is not None}
        log("final event: seq %d status %s; %d events, %d via PUB, %d from the store, "
            "%d dropped on purpose" % (final["seq"], final["status"], len(events),
                                       stream.from_pub, stream.from_store, stream.dropped))
        check(stream.dropped > 0, "no PUB event was dropped: the gap path did not run")
        check(stream.from_store >= stream.dropped,
              "%d events dropped on PUB, only %d came from the store"
              % (stream.dropped, stream.from_store))
    finally:
        stream.close()

    # Seqs strictly increasing, no gaps from the first stored event on.
    seqs = [ev["seq"] for ev in events]
    check(seqs[0] == 1, "the first event is seq %d, not 1 (fresh data dir)" % seqs[0])
    check(seqs == list(range(1, seqs[-1] + 1)),
          "seqs not 1..%d in order: gaps %s" % (seqs[-1],
                                                sorted(set(range(1, seqs[-1] + 1)) - set(seqs))))

    # What PUB delivered (and what the stream handed out) is what the store replays.
    stored = {}
    after = 0
    while after < seqs[-1]:
        page = client.events_since(after, limit=1000)
        check(isinstance(page["events"], list) and page["events"], "events.since(%d): nothing"
              % after)
        for ev in page["events"]:
            stored[ev["seq"]] = ev
        after = page["events"][-1]["seq"]
    check([s for s in sorted(stored) if s <= seqs[-1]] == seqs,
          "events.since(0) does not replay seqs 1..%d" % seqs[-1])
    for ev in events:
        check(stored[ev["seq"]] == ev, "seq %d: the stream's %r, the store's %r"
              % (ev["seq"], ev, stored[ev["seq"]]))
    for seq, body in via_pub.items():
        if seq > seqs[-1]:
            continue
        ev = stored[seq]
        for key, value in body.items():
            check(ev.get(key) == value, "seq %d: %s=%r on PUB, %r in the store"
                  % (seq, key, value, ev.get(key)))

    # The events agree with pipeline.get.
    pipeline = client.get(pid)
    check(isinstance(pipeline, dict), "pipeline.get: no pipeline map")
    check(pipeline.get("id") == pid, "pipeline.get: id %r" % pipeline.get("id"))
    check(pipeline.get("status") == final["status"],
          "pipeline.get says %r, the final event %r" % (pipeline.get("status"), final["status"]))
    tasks = pipeline.get("tasks")
    check(isinstance(tasks, list) and tasks, "pipeline.get: no tasks")
    last_status = {}
    last_progress = {}
    for ev in events:
        topic, seq = ev.get("topic"), ev["seq"]
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


def run(tmp, sluiced_path, mock_path, _keygen_path):
    from sluice_client import Client

    progress = "ws://127.0.0.1:%d" % h.free_port()
    fleet = daemon = None
    try:
        fleet = h.Fleet(tmp, mock_path, progress, log,
                        ["--latency", "300-900", "--progress", "100"])
        daemon = h.Daemon(tmp, sluiced_path, fleet, progress, log)
        daemon.start()
        with Client(api=daemon.api, pub=daemon.pub, timeout=REQUEST_TIMEOUT_S) as client:
            return follow(client)
    finally:
        codes = h.stop_all(daemon, fleet, log)
        if codes.get("sluiced") not in (None, 0):
            log("sluiced did not exit 0 on SIGTERM (%s)" % codes["sluiced"])
        h.dump_logs(tmp, log)


def main():
    return h.main("test_python_client", run, log, modules=("msgpack", "zmq", "sluice_client"))


if __name__ == "__main__":
    sys.exit(main())
