"""events.py: EventStream, the daemon's events in seq order, none missed.

sluiced publishes every committed event on its PUB socket (README
"Monitoring (PUB)") with a gapless `seq`, and keeps them all in its store
(events.since). PUB alone loses events: before the subscription is up,
while the daemon restarts, when a subscriber falls behind. So the stream
tracks the last seq it handed out and treats PUB as a hint: the next seq
from PUB is handed out at once; anything else (a gap, or quiet for `idle`
seconds, which may hide a lost last event) makes it read the store from the
last seq on, page by page, before it goes back to PUB. An event at or below
the last seq is a duplicate and is skipped. ZeroMQ reconnects the SUB
socket when the daemon comes back; while it is away, the store requests
time out and are tried again at the next idle, so a restart costs no event
and no duplicate. Seqs belong to one data directory: a daemon started on a
fresh one starts again at 1, which this stream (rightly) does not follow.
Events are pruned with their finished pipelines: a stream that fell behind
the oldest kept event raises Pruned (with `first_seq`) from next(), since
what it missed cannot be replayed; the caller re-reads state with
pipeline.get and opens a new stream from first_seq - 1.
"""
import collections
import time

import msgpack
import zmq

from .errors import DaemonTimeout, Timeout, Unavailable


def read_event(sock):
    """The event map of one PUB message [topic, msgpack map], or None when
    the message is not one (it is then skipped: it cannot be ordered)."""
    frames = sock.recv_multipart()
    if len(frames) != 2:
        return None
    try:
        body = msgpack.unpackb(frames[1], raw=False)
    except Exception:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("seq"), int) or body["seq"] <= 0:
        return None
    return body


class EventStream:
    """Iterates the events (maps {seq, ts, topic, ...}) in seq order; made
    by Client.events(). Counters: `from_pub` and `from_store` say how many
    events came each way."""

    def __init__(self, client, since, timeout, idle):
        self._client = client
        self.last = None if since is None else int(since)
        self._timeout = timeout
        self._idle = float(idle)
        self._ready = collections.deque()
        self._catch_up = self.last is not None
        self.from_pub = 0
        self.from_store = 0
        self._sub = client._sub()

    def close(self):
        if self._sub is not None:
            self._sub.close(linger=0)
            self._sub = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        if self._sub is None:
            raise StopIteration
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            if self._ready:
                ev = self._ready.popleft()
                self.last = ev["seq"]
                self.from_store += 1
                return ev
            if self._catch_up:
                self._read_store(deadline)
                if self._ready:
                    continue
            wait = self._idle
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("events: no event within %.1f s (last seq %s)"
                                  % (self._timeout, self.last), "events")
                wait = min(wait, left)
            if not self._sub.poll(int(wait * 1000) + 1):
                # Quiet: the last event may be the one PUB lost, and no
                # later one would reveal the gap.
                self._catch_up = self.last is not None
                continue
            ev = self._receive()
            if ev is None:
                continue
            seq = ev["seq"]
            if self.last is None:
                self.last = seq - 1  # since=None: the stream starts here
            if seq <= self.last:
                continue  # already handed out
            if seq == self.last + 1:
                self.last = seq
                self.from_pub += 1
                return ev
            # A gap: the store holds everything up to seq (PUB sends after
            # the commit); this event comes from there, in its turn.
            self._catch_up = True

    def _receive(self):
        """The next PUB message as an event map, None to skip it."""
        return read_event(self._sub)

    def _read_store(self, deadline):
        """One page of events.since after the last seq into _ready; a daemon
        that is away is asked again later."""
        wait = self._client.timeout
        if deadline is not None:
            wait = max(0.001, min(wait, deadline - time.monotonic()))
        try:
            page = self._client.events_since(self.last, limit=1000, timeout=wait)
        except (Timeout, Unavailable, DaemonTimeout):
            self._catch_up = False
            return
        top = self.last
        for ev in page.get("events") or []:
            if isinstance(ev, dict) and isinstance(ev.get("seq"), int) and ev["seq"] > top:
                self._ready.append(ev)
                top = ev["seq"]
        self._catch_up = page.get("more") is True
