"""client.py: Client, the API of sluiced from Python (README "The API").

One Client holds a ZeroMQ context and one DEALER socket to the daemon's
ROUTER. A call sends one msgpack map {op, id, ...} and waits for the reply
carrying the same id, up to the call's deadline; a reply with another id is
a late answer to an earlier call and is skipped. After a deadline passes the
socket is closed and a fresh one opened for the next call, so a request
queued for a daemon that was not there is never delivered late (the "lazy
pirate" pattern). Calls are serialised by a lock: threads may share a Client
(a Flask app keeps one per process); the event streams and wait() open their
own SUB sockets. After a fork the child opens its own context on first use.
"""
import os
import threading
import time

import msgpack
import zmq

from .curve import Curve, as_curve
from .errors import DaemonTimeout, ProtocolError, Timeout, Unavailable, api_error
from .events import EventStream, read_event

DEFAULT_API = "tcp://127.0.0.1:5570"
DEFAULT_PUB = "tcp://127.0.0.1:5571"
DEFAULT_TIMEOUT = 10.0

# A pipeline's final statuses (README "Statuses").
FINAL = ("completed", "partial_success", "failed", "cancelled")


def _fields(**kwargs):
    return {k: v for k, v in kwargs.items() if v is not None}


class Client:
    """A client of sluiced.

    api, pub: the daemon's API (ROUTER) and PUB endpoints; default
    $SLUICE_API / $SLUICE_PUB, else tcp://127.0.0.1:5570 and :5571.
    curve: None (then $SLUICE_CURVE_SERVER_KEY and $SLUICE_CURVE_CLIENT when
    set), a Curve, or (server certificate, client secret certificate) paths.
    timeout: seconds each call waits for its reply (Timeout after it); every
    method also takes its own timeout=.
    """

    def __init__(self, api=None, pub=None, curve=None, timeout=DEFAULT_TIMEOUT):
        self.api = api or os.environ.get("SLUICE_API") or DEFAULT_API
        self.pub = pub or os.environ.get("SLUICE_PUB") or DEFAULT_PUB
        self.curve = as_curve(curve) if curve is not None else Curve.from_env()
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._ctx = zmq.Context()
        self._sock = None
        self._n = 0
        self._tag = "py%x.%x" % (os.getpid(), id(self) & 0xFFFFFF)

    # ---- life ---------------------------------------------------------------

    def close(self):
        """Closes the sockets; a closed Client cannot be used again."""
        with self._lock:
            if self._sock is not None:
                self._sock.close(linger=0)
                self._sock = None
            if self._ctx is not None and self._pid == os.getpid():
                self._ctx.destroy(linger=0)
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _context(self):
        if self._ctx is None:
            raise ValueError("the Client is closed")
        if self._pid != os.getpid():
            # A forked child: the parent's context and sockets are not ours.
            self._ctx = zmq.Context()
            self._sock = None
            self._pid = os.getpid()
        return self._ctx

    def _open(self, kind):
        sock = self._context().socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            self.curve.apply(sock)
        return sock

    def _sub(self, topic=b""):
        """A SUB socket on the PUB endpoint (the caller closes it). ZMTP
        heartbeats make a connection whose peer vanished without a word
        reconnect instead of waiting for ever."""
        sock = self._open(zmq.SUB)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 5000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 15000)
        sock.setsockopt(zmq.SUBSCRIBE, topic)
        sock.connect(self.pub)
        return sock

    # ---- the call -----------------------------------------------------------

    def call(self, op, timeout=None, **fields):
        """Sends {op, id, **fields} and returns the reply map ({ok: true,
        ...}). Raises the ApiError subclass of the reply's error code,
        Timeout when no reply comes within timeout (default the Client's),
        ProtocolError for a reply that is not a map."""
        wait_s = self.timeout if timeout is None else float(timeout)
        with self._lock:
            self._n += 1
            rid = "%s-%d" % (self._tag, self._n)
            body = msgpack.packb(dict(fields, op=op, id=rid), use_bin_type=True)
            if self._sock is None:
                self._sock = self._open(zmq.DEALER)
                self._sock.connect(self.api)
            sock = self._sock
            deadline = time.monotonic() + wait_s
            try:
                reply = self._exchange(sock, body, rid, deadline)
            except Timeout:
                self._sock = None
                sock.close(linger=0)
                raise Timeout("%s: no reply from %s within %.1f s" % (op, self.api, wait_s), op)
        ok = reply.get("ok")
        if ok is True:
            return reply
        error = reply.get("error")
        if ok is False and isinstance(error, dict):
            raise api_error(str(error.get("code")), str(error.get("message", "")), op, reply)
        raise ProtocolError("%s: a reply without ok/error: %r" % (op, reply), op)

    @staticmethod
    def _exchange(sock, body, rid, deadline):
        while True:
            try:
                sock.send(body, zmq.NOBLOCK)
                break
            except zmq.Again:
                left = deadline - time.monotonic()
                if left <= 0 or not sock.poll(int(left * 1000) + 1, zmq.POLLOUT):
                    raise Timeout("send")
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000) + 1):
                raise Timeout("reply")
            frames = sock.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except Exception as e:
                raise ProtocolError("a reply that is not msgpack: %s" % e)
            if not isinstance(reply, dict):
                raise ProtocolError("a reply that is not a map: %r" % (reply,))
            # No id: the request could not be read far enough to find it
            # (malformed, too_big); it answers the one request in flight.
            if "id" not in reply or reply["id"] == rid:
                return reply

    # ---- the ops (README "The API") -----------------------------------------

    def ping(self, timeout=None):
        """{pong, ts}: the daemon is up and answering."""
        return self.call("ping", timeout)

    def start_pipeline(self, request=None, timeout=None, **fields):
        """Starts a pipeline; returns its id once it is committed.

        request: a start request as a dict ({name, config: {generation,
        analysis}, timeouts?, retry?}, or the seed's top-level {generation,
        analysis} shape, e.g. json.load of tests/data/requests/incident.json);
        fields: the same keys as keywords, they win over request's."""
        req = dict(request or {})
        req.update(_fields(**fields))
        req.pop("op", None)
        req.pop("id", None)
        reply = self.call("pipeline.start", timeout, **req)
        pid = reply.get("pipeline_id")
        if not isinstance(pid, str) or not pid:
            raise ProtocolError("pipeline.start: no pipeline_id in %r" % reply, "pipeline.start")
        return pid

    def get(self, pipeline_id, timeout=None):
        """The pipeline map of pipeline.get (with its tasks)."""
        return self.call("pipeline.get", timeout, pipeline_id=pipeline_id)["pipeline"]

    def list(self, status=None, limit=None, timeout=None):
        """pipeline.list: [{id, name, status, stage, created_at}]."""
        return self.call("pipeline.list", timeout, **_fields(status=status,
                                                             limit=limit))["pipelines"]

    def cancel(self, pipeline_id=None, task_id=None, timeout=None):
        """Cancels a pipeline (pipeline.cancel) or, with task_id=, one task
        (task.cancel)."""
        if (pipeline_id is None) == (task_id is None):
            raise ValueError("cancel: give a pipeline_id or a task_id")
        if task_id is not None:
            self.call("task.cancel", timeout, task_id=task_id)
        else:
            self.call("pipeline.cancel", timeout, pipeline_id=pipeline_id)

    def task(self, task_id, timeout=None):
        """The task map of task.get, with its attempts."""
        return self.call("task.get", timeout, task_id=task_id)["task"]

    def result(self, task_id, attempt=None, timeout=None):
        """result.get: the analyzer's raw result frame (JSON bytes)."""
        return self.call("result.get", timeout, **_fields(task_id=task_id,
                                                          attempt=attempt))["result"]

    def dlq_list(self, limit=None, timeout=None):
        """dlq.list: the dead-letter queue's entries."""
        return self.call("dlq.list", timeout, **_fields(limit=limit))["entries"]

    def dlq_retry(self, task_id=None, all=False, force=False, timeout=None):
        """dlq.retry of one task, or of every entry with all=True (returns
        how many were retried; None for one task). force=True retries a
        task past its third strike."""
        if (task_id is None) == (not all):
            raise ValueError("dlq_retry: give a task_id or all=True")
        fields = {"all": True} if all else {"task_id": task_id}
        if force:
            fields["force"] = True
        return self.call("dlq.retry", timeout, **fields).get("retried")

    def dlq_drop(self, task_id, timeout=None):
        """dlq.drop: removes a task's DLQ entry."""
        self.call("dlq.drop", timeout, task_id=task_id)

    def endpoints(self, timeout=None):
        """endpoints.list: [{name, protocol, queued, replicas, pushes}]."""
        return self.call("endpoints.list", timeout)["services"]

    def stats(self, timeout=None):
        """stats: {api, actors, pushes}."""
        reply = self.call("stats", timeout)
        return {k: v for k, v in reply.items() if k not in ("ok", "id")}

    def events_since(self, seq=0, limit=None, timeout=None):
        """events.since: {events, last_seq, more}, the stored events after seq."""
        reply = self.call("events.since", timeout, **_fields(seq=seq, limit=limit))
        return {k: reply.get(k) for k in ("events", "last_seq", "more")}

    # ---- following the daemon ---------------------------------------------------

    def events(self, since=None, timeout=None, idle=1.0):
        """An iterator over the event stream in seq order, without gaps or
        duplicates (an EventStream; close it, or use it in a with block).

        since: None = from the first event PUB delivers; N = every event
        after seq N (0 = from the first one stored). timeout: seconds next()
        waits for an event before it raises Timeout (None = for ever).
        idle: after this many quiet seconds the store is asked for what PUB
        may have lost (one events.since request)."""
        return EventStream(self, since, timeout, idle)

    def wait(self, pipeline_id, timeout=None, poll=1.0):
        """Waits until the pipeline reaches a final status and returns its
        pipeline.get map. Follows pipeline.status events and asks
        pipeline.get every `poll` seconds (so a lost event or a daemon
        restart costs at most that). Raises Timeout after timeout seconds
        (None = no limit), NotFound for an unknown pipeline."""
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        sub = self._sub(b"pipeline.status")
        try:
            while True:
                try:
                    pipeline = self.get(pipeline_id, timeout=self._left(deadline))
                    if pipeline.get("status") in FINAL:
                        return pipeline
                except (Timeout, Unavailable, DaemonTimeout):
                    pass  # the daemon is away (a restart): ask again
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise Timeout("wait: pipeline %s not final within %.1f s"
                                  % (pipeline_id, timeout), "wait")
                next_poll = now + poll if deadline is None else min(now + poll, deadline)
                while True:
                    left = next_poll - time.monotonic()
                    if left <= 0 or not sub.poll(int(left * 1000) + 1):
                        break
                    ev = read_event(sub)
                    if ev and ev.get("pipeline_id") == pipeline_id and ev.get("status") in FINAL:
                        break
        finally:
            sub.close(linger=0)

    def _left(self, deadline):
        """A call's timeout: the Client's, cut to what is left of deadline."""
        if deadline is None:
            return self.timeout
        return max(0.001, min(self.timeout, deadline - time.monotonic()))
