#!/usr/bin/python3
"""test_sluice_client.py: the sluice_client package (tools/python), case by case.

Against the real sluiced (CURVE on, keys from sluice-keygen) and the mock
fleet, started by tests/tools/py_harness.py (ipc:// API and PUB in a
temporary directory, children stopped by pid, every wait bounded):

  - no daemon: every call, wait() and an event stream raise Timeout within
    their deadline;
  - CURVE: a client with an allowed key is answered; one with an unknown
    key, or none, gets Timeout; keys by value and from the environment
    work; a bad certificate file, or one variable alone, is a ValueError;
  - typed errors: each bad request raises the class of its API error code
    (NotFound, UnknownOp, Invalid, MissingField, TooBig), with .code;
  - start_pipeline + wait() to a final status that equals pipeline.get's,
    and the other ops (list, task, result, endpoints, stats, dlq_*);
  - cancel: a cancelled pipeline ends `cancelled`; wait() with a short
    timeout on a running pipeline raises Timeout;
  - events() without since starts at the first event PUB delivers;
  - pruned: the `pruned` error reply raises Pruned with .first_seq, and an
    event stream behind the oldest kept event raises it from next();
  - events(): a stream from seq 0 across a daemon restart (SIGTERM, start
    again on the same data directory) hands out every seq exactly once, in
    order, equal to the store's replay, and PUB delivers again after the
    restart (the SUB socket reconnected).

Exit 0 pass, 1 fail, 77 skip (the sluiced binary does not exist).
Environment: as test_python_client.py.
"""
import json
import os
import subprocess
import sys
import time

import py_harness as h

check = h.check
Fail = h.Fail
DEADLINE_S = float(os.environ.get("SLUICE_PY_DEADLINE_S", "120"))


def log(*args):
    print("test_sluice_client:", *args, file=sys.stderr, flush=True)


def small_request(name, templates=("api_url_shortener",), analyzers=("static-analyzer",)):
    return {"name": name,
            "config": {"generation": {"mode": "generate", "models": ["m1"],
                                      "templates": list(templates)},
                       "analysis": {"enabled": True, "analyzers": list(analyzers), "tools": [],
                                    "options": {"parallel": True,
                                                "target_urls": ["http://{model}-app{app}:5000"]}}}}


def raises(cls, fn, *args, **kwargs):
    """Calls fn; checks it raises cls (exactly that class) and returns it."""
    try:
        fn(*args, **kwargs)
    except cls as e:
        check(type(e) is cls, "%s raised %s, not %s" % (fn.__name__, type(e).__name__,
                                                          cls.__name__))
        return e
    except Exception as e:
        raise Fail("%s raised %s (%s), not %s" % (fn.__name__, type(e).__name__, e,
                                                  cls.__name__))
    raise Fail("%s raised nothing, expected %s" % (getattr(fn, "__name__", fn), cls.__name__))


# ---- cases ------------------------------------------------------------------------


def case_no_daemon(tmp):
    import sluice_client as sc
    api = "ipc://%s/nobody.sock" % tmp
    with sc.Client(api=api, pub="ipc://%s/nobody-pub.sock" % tmp, timeout=0.3) as c:
        for name, fn in (("ping", c.ping), ("get", lambda: c.get("p1")),
                         ("start_pipeline", lambda: c.start_pipeline(small_request("x")))):
            t0 = time.monotonic()
            e = raises(sc.Timeout, fn)
            took = time.monotonic() - t0
            check(0.25 <= took < 3, "%s: Timeout after %.2f s, expected ~0.3" % (name, took))
            check(e.code is None and isinstance(e, TimeoutError) and isinstance(e, sc.SluiceError),
                  "%s: Timeout is a SluiceError and a TimeoutError with code None" % name)
        t0 = time.monotonic()
        raises(sc.Timeout, c.ping, timeout=0.1)
        check(time.monotonic() - t0 < 2, "ping(timeout=0.1) did not honour its own timeout")
        t0 = time.monotonic()
        raises(sc.Timeout, c.wait, "p1", timeout=0.8)
        check(time.monotonic() - t0 < 4, "wait(timeout=0.8) took %.1f s" % (time.monotonic() - t0))
        with c.events(since=0, timeout=0.8) as stream:
            t0 = time.monotonic()
            raises(sc.Timeout, next, stream)
            check(time.monotonic() - t0 < 4, "an event stream's timeout took %.1f s"
                  % (time.monotonic() - t0))
    log("ok: no daemon: Timeout on calls, wait and events")


def case_curve(daemon, certs):
    import sluice_client as sc
    good = sc.Client(api=daemon.api, pub=daemon.pub,
                     curve=(certs["server"], certs["alice"]), timeout=5)
    try:
        check(good.ping().get("pong") is True, "CURVE: an allowed client got no pong")
    finally:
        good.close()
    for who, curve in (("unknown key", (certs["server"], certs["mallory"])),
                       ("no CURVE", None)):
        with sc.Client(api=daemon.api, pub=daemon.pub, curve=curve, timeout=0.5) as c:
            raises(sc.Timeout, c.ping)
    e = raises(ValueError, sc.Curve.from_files, certs["server"], certs["server"])
    check("secret" in str(e), "a public certificate as the client's: %s" % e)
    raises(ValueError, sc.Curve.from_files, certs["server"] + ".missing", certs["alice"])
    # The keys from the environment, as sluicectl reads them; one alone is an error.
    os.environ["SLUICE_CURVE_SERVER_KEY"] = certs["server"]
    os.environ["SLUICE_CURVE_CLIENT"] = certs["alice"]
    try:
        with sc.Client(api=daemon.api, pub=daemon.pub, timeout=5) as c:
            check(c.ping().get("pong") is True, "CURVE keys from the environment: no pong")
        del os.environ["SLUICE_CURVE_CLIENT"]
        e = raises(ValueError, sc.Client, api=daemon.api)
        check("SLUICE_CURVE_CLIENT" in str(e), "a lone CURVE variable: %s" % e)
    finally:
        os.environ.pop("SLUICE_CURVE_SERVER_KEY", None)
        os.environ.pop("SLUICE_CURVE_CLIENT", None)
    # The same keys by value (Z85), as an app reading them from its own config would.
    pair = sc.curve.read_cert(certs["alice"])
    server = sc.curve.read_cert(certs["server"])
    from zmq.utils import z85
    by_value = sc.Curve(z85.encode(server["public-key"]).decode(),
                        pair["public-key"], pair["secret-key"])
    with sc.Client(api=daemon.api, pub=daemon.pub, curve=by_value, timeout=5) as c:
        check(c.ping().get("pong") is True, "CURVE keys by value: no pong")
    log("ok: CURVE: allowed key answered, unknown key and no key time out")


def case_errors(c):
    import sluice_client as sc
    cases = [
        (sc.NotFound, "not_found", "pipeline.get", lambda: c.get("p0000000000000000")),
        (sc.NotFound, "not_found", "task.get", lambda: c.task("p0000000000000000-t1")),
        (sc.NotFound, "not_found", "result.get", lambda: c.result("p0000000000000000-t1")),
        (sc.UnknownOp, "unknown_op", "no.such.op", lambda: c.call("no.such.op")),
        (sc.Invalid, "invalid", "pipeline.start", lambda: c.start_pipeline(name="no config")),
        (sc.Invalid, "invalid", "pipeline.get", lambda: c.call("pipeline.get", pipeline_id=5)),
        (sc.Invalid, "invalid", "events.since", lambda: c.events_since(seq=-1)),
        (sc.MissingField, "missing_field", "task.get", lambda: c.call("task.get")),
        (sc.TooBig, "too_big", "pipeline.start",
         lambda: c.start_pipeline(small_request("x" * (1 << 21)))),
    ]
    for cls, code, op, fn in cases:
        e = raises(cls, fn)
        check(e.code == code, "%s: code %r, expected %r" % (op, e.code, code))
        check(e.op == op, "%s: .op is %r" % (op, e.op))
        check(isinstance(e, sc.ApiError) and e.message, "%s: not an ApiError with a message" % op)
        check(isinstance(e.reply, dict) and e.reply.get("ok") is False,
              "%s: .reply is not the error reply" % op)
    check(sc.ERRORS["timeout"] is sc.DaemonTimeout and sc.ERRORS["unavailable"] is sc.Unavailable,
          "the error table lost a code")
    check(type(sc.errors.api_error("busy", "held")) is sc.ApiError,
          "a code without a class of its own must raise ApiError")
    # The client still works after the errors (and after a timed-out call).
    check(c.ping().get("pong") is True, "ping after the errors")
    log("ok: typed errors: %s" % ", ".join(sorted({cls.__name__ for cls, *_ in cases})))


class _PrunedClient:
    """Stands in for a Client whose daemon pruned everything before seq 40."""
    timeout = 1.0

    class _Sub:
        def poll(self, ms):
            return 0

        def close(self, linger=0):
            pass

    def _sub(self):
        return self._Sub()

    def events_since(self, seq=0, limit=None, timeout=None):
        import sluice_client as sc
        if 0 < seq < 39:
            raise sc.errors.api_error("pruned", "events after seq %d were pruned" % seq,
                                      "events.since",
                                      {"ok": False, "error": {"code": "pruned", "message": "m",
                                                              "first_seq": 40}})
        return {"events": [{"seq": 40, "topic": "alert"}], "last_seq": 40, "more": False}


def case_pruned():
    import sluice_client as sc
    e = sc.errors.api_error("pruned", "gone", "events.since",
                            {"ok": False, "error": {"code": "pruned", "first_seq": 7}})
    check(type(e) is sc.Pruned and e.code == "pruned" and e.first_seq == 7,
          "pruned: %r first_seq %r" % (type(e).__name__, getattr(e, "first_seq", None)))
    check(sc.errors.api_error("pruned", "no seq").first_seq is None, "pruned without first_seq")
    with sc.EventStream(_PrunedClient(), 5, 1.0, 0.05) as stream:
        e = raises(sc.Pruned, next, stream)
        check(e.first_seq == 40, "stream: first_seq %r" % e.first_seq)
    with sc.EventStream(_PrunedClient(), 39, 1.0, 0.05) as stream:
        check(next(stream)["seq"] == 40, "a stream from first_seq - 1 reads on")
    log("ok: pruned: Pruned with first_seq, raised by a stream that fell behind")


def case_start_wait(c):
    import sluice_client as sc
    pid = c.start_pipeline(small_request("python start+wait"))
    check(isinstance(pid, str) and pid, "start_pipeline: no id")
    pipeline = c.wait(pid, timeout=DEADLINE_S)
    check(pipeline["id"] == pid, "wait returned pipeline %r" % pipeline.get("id"))
    check(pipeline["status"] in sc.FINAL, "wait returned a non-final status %r"
          % pipeline["status"])
    check(pipeline["status"] == "completed", "the mock's pipeline ended %r, not completed: %r"
          % (pipeline["status"], [(t["id"], t["status"], t.get("error"))
                                  for t in pipeline["tasks"]]))
    check(c.get(pid)["status"] == pipeline["status"], "get disagrees with wait")
    tasks = pipeline["tasks"]
    check(len(tasks) == 2 and {t["kind"] for t in tasks} == {"generation", "analysis"},
          "1 generation and 1 analysis task expected: %r" % [t["kind"] for t in tasks])
    listed = c.list()
    check(any(p["id"] == pid for p in listed), "list() lacks %s" % pid)
    check(all(p["status"] == "completed" for p in c.list(status="completed")),
          "list(status=completed) returned another status")
    check(len(c.list(limit=1)) == 1, "list(limit=1)")
    ana = [t for t in tasks if t["kind"] == "analysis"][0]
    task = c.task(ana["id"])
    check(task["id"] == ana["id"] and task["status"] == "succeeded", "task(): %r" % task)
    raw = c.result(ana["id"])
    check(isinstance(raw, bytes) and isinstance(json.loads(raw), dict),
          "result(): not JSON bytes: %r" % raw[:80])
    services = c.endpoints()
    names = {s["name"] for s in services}
    check(set(h.SERVICES) <= names, "endpoints(): services %s" % names)
    stats = c.stats()
    check(stats["api"]["requests"] > 0 and stats["actors"] and "pushes" in stats,
          "stats(): %r" % {k: type(v).__name__ for k, v in stats.items()})
    check(isinstance(c.dlq_list(), list), "dlq_list(): not a list")
    check(c.dlq_retry(all=True) == 0, "dlq_retry(all=True) on an empty DLQ")
    raises(sc.NotFound, c.dlq_retry, "p0000000000000000-t1")
    raises(sc.NotFound, c.dlq_drop, "p0000000000000000-t1")
    raises(ValueError, c.dlq_retry)
    raises(ValueError, c.cancel)
    # wait() on a pipeline that is final already returns at once.
    t0 = time.monotonic()
    check(c.wait(pid, timeout=5)["status"] == "completed", "a second wait")
    check(time.monotonic() - t0 < 2, "wait on a final pipeline took %.1f s"
          % (time.monotonic() - t0))
    log("ok: start_pipeline + wait: %s %s; list, task, result, endpoints, stats, dlq_*"
        % (pid, pipeline["status"]))


def case_cancel(c):
    import sluice_client as sc
    pid = c.start_pipeline(small_request("python cancel", templates=("a", "b", "c"),
                                         analyzers=h.SERVICES[:4]))
    raises(sc.Timeout, c.wait, pid, timeout=0.2)
    c.cancel(pid)
    pipeline = c.wait(pid, timeout=DEADLINE_S)
    check(pipeline["status"] == "cancelled", "a cancelled pipeline ended %r" % pipeline["status"])
    raises(sc.NotFound, c.cancel, "p0000000000000000")
    raises(sc.NotFound, c.cancel, task_id="p0000000000000000-t1")
    log("ok: cancel: %s cancelled; wait(timeout=0.2) raised Timeout" % pid)


def case_live(c):
    """events() without since: from the first event PUB delivers, in order."""
    with c.events(timeout=20) as stream:
        pid = c.start_pipeline(small_request("python live"))
        got = [next(stream) for _ in range(6)]
        seqs = [ev["seq"] for ev in got]
        check(seqs == list(range(seqs[0], seqs[0] + 6)), "live seqs %s" % seqs)
        check(stream.from_pub >= 1, "no event came over PUB")
    c.wait(pid, timeout=DEADLINE_S)
    log("ok: events() from now: seqs %d..%d" % (seqs[0], seqs[-1]))


def case_restart(c, daemon):
    import sluice_client as sc
    seen = []
    with c.events(since=0, timeout=30, idle=0.5) as stream:
        pid = c.start_pipeline(small_request("python restart", templates=("a", "b", "c"),
                                             analyzers=h.SERVICES[:4]))
        deadline = time.monotonic() + DEADLINE_S

        def until(pred, what):
            for ev in stream:
                seen.append(ev)
                if pred(ev):
                    return ev
                check(time.monotonic() < deadline, "%s: not within %.0f s" % (what, DEADLINE_S))

        def final_of(p):
            return lambda ev: (ev["topic"] == "pipeline.status" and ev.get("pipeline_id") == p
                               and ev.get("status") in sc.FINAL)

        until(lambda ev: ev["topic"] == "task.status" and ev.get("pipeline_id") == pid
              and ev.get("status") == "running",
              "a running task")
        code = daemon.stop()
        check(code == 0, "sluiced exited %r on SIGTERM" % code)
        log("sluiced stopped at seq %d of the stream" % seen[-1]["seq"])
        # A call while the daemon is away times out, and the client recovers.
        raises(sc.Timeout, c.ping, timeout=0.3)
        daemon.start()
        check(c.ping().get("pong") is True, "ping after the restart")
        end = until(final_of(pid), "the restarted pipeline's final status")
        check(end["status"] == "completed", "the pipeline ended %r after the restart"
              % end["status"])
        pub_before = stream.from_pub
        pid2 = c.start_pipeline(small_request("python after restart"))
        until(final_of(pid2), "the second pipeline's final status")
        check(stream.from_pub > pub_before,
              "no event came over PUB after the restart (%d before, %d after)"
              % (pub_before, stream.from_pub))
    seqs = [ev["seq"] for ev in seen]
    check(seqs == list(range(1, seqs[-1] + 1)),
          "seqs across the restart are not 1..%d once each: missing %s, repeated %s"
          % (seqs[-1], sorted(set(range(1, seqs[-1] + 1)) - set(seqs)),
             sorted({s for s in seqs if seqs.count(s) > 1})))
    stored = []
    while len(stored) < len(seen):
        page = c.events_since(len(stored), limit=1000)
        check(page["events"], "events.since(%d): nothing" % len(stored))
        stored.extend(page["events"])
    check(stored[:len(seen)] == seen, "the stream's events differ from the store's replay")
    log("ok: events across a restart: seqs 1..%d once each (%d via PUB, %d from the store)"
        % (seqs[-1], stream.from_pub, stream.from_store))


# ---- the program ---------------------------------------------------------------------


def keygen(tmp, path):
    os.makedirs(os.path.join(tmp, "clients"))
    certs = {"server": os.path.join(tmp, "server.cert"),
             "alice": os.path.join(tmp, "clients", "alice.cert"),
             "mallory": os.path.join(tmp, "mallory.cert")}
    for name, cert in certs.items():
        subprocess.run([path, cert, name], check=True, stdout=subprocess.DEVNULL, timeout=20)
    out = {name: cert + "_secret" for name, cert in certs.items()}
    out["server"] = certs["server"]
    out["clients_dir"] = os.path.join(tmp, "clients")
    return out


def run(tmp, sluiced_path, mock_path, keygen_path):
    import sluice_client as sc
    for var in ("SLUICE_CURVE_SERVER_KEY", "SLUICE_CURVE_CLIENT", "SLUICE_API", "SLUICE_PUB"):
        os.environ.pop(var, None)  # Client(curve=None) would read them
    case_no_daemon(tmp)
    case_pruned()
    certs = keygen(tmp, keygen_path)
    progress = "ws://127.0.0.1:%d" % h.free_port()
    fleet = daemon = None
    try:
        fleet = h.Fleet(tmp, mock_path, progress, log,
                        ["--latency", "300-900", "--progress", "100"])
        daemon = h.Daemon(tmp, sluiced_path, fleet, progress, log, extra=[
            "api/curve_secret_file=%s" % certs["server"] + "_secret",
            "api/curve_clients_dir=%s" % certs["clients_dir"],
            "sluice/shutdown_grace_ms=1000"])
        daemon.start()
        case_curve(daemon, certs)
        with sc.Client(api=daemon.api, pub=daemon.pub, curve=(certs["server"], certs["alice"]),
                       timeout=5) as c:
            case_errors(c)
            case_start_wait(c)
            case_cancel(c)
            case_live(c)
            case_restart(c, daemon)
        return 0
    finally:
        h.stop_all(daemon, fleet, log)
        h.dump_logs(tmp, log)


def main():
    return h.main("test_sluice_client", run, log)


if __name__ == "__main__":
    sys.exit(main())
