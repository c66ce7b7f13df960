"""errors.py: the exceptions of sluice_client.

Every exception the client raises is a SluiceError. An error reply from the
daemon ({ok: false, error: {code, message}}) raises an ApiError whose `code`
is the API's error code (README "The API"); the API's own codes have a class
each, so callers can catch NotFound or Invalid by type, and any other code
(the names of runtime/sl_err.h's table, such as "busy" or "bad_state") raises
ApiError itself with that `code`. Failures on the client's side have
`code` None: Timeout (no reply within the call's deadline) and
ProtocolError (a reply that is not a msgpack map).
"""


class SluiceError(Exception):
    """Base of every sluice_client error. `code` is the API's error code
    for a daemon's error reply, None for a failure on the client's side."""

    code = None

    def __init__(self, message, op=None):
        super().__init__(message)
        self.message = message
        self.op = op


class Timeout(SluiceError, TimeoutError):
    """No reply (or no event) within the deadline: the daemon is not there,
    is not answering, or refused the CURVE handshake (which looks the same
    from the client's side)."""


class ProtocolError(SluiceError):
    """The daemon's reply is not a msgpack map with a boolean `ok`."""


class ApiError(SluiceError):
    """The daemon answered {ok: false, error: {code, message}}."""

    def __init__(self, code, message, op=None, reply=None):
        super().__init__("%s: %s" % (code, message), op)
        self.code = code
        self.message = message
        self.reply = reply


class Malformed(ApiError):
    """malformed: not msgpack, not a map, or several frames."""


class TooBig(ApiError):
    """too_big: the request exceeds api/max_request_bytes."""


class MissingField(ApiError):
    """missing_field: a required field is absent."""


class Invalid(ApiError):
    """invalid: a mistyped or out-of-range field."""


class UnknownOp(ApiError):
    """unknown_op: the daemon has no such op."""


class NotFound(ApiError):
    """not_found: no such pipeline, task, result or DLQ entry."""


class DaemonTimeout(ApiError):
    """timeout: a part of the daemon did not answer the API in time (the
    daemon's own deadline; the client's is Timeout)."""


class Unavailable(ApiError):
    """unavailable: the part of the daemon that serves the op is not running
    (for example while it stops)."""


class Internal(ApiError):
    """internal: a part of the daemon failed behind the API (an unreadable
    reply, a failed store scan)."""


class Pruned(ApiError):
    """pruned: events.since was asked for events that were pruned with
    their finished pipelines (README "Durability and recovery").
    `first_seq` is the oldest event the daemon still has: re-read the state
    you follow (pipeline.get), then go on from first_seq - 1."""

    def __init__(self, code, message, op=None, reply=None):
        super().__init__(code, message, op, reply)
        err = (reply or {}).get("error") if isinstance(reply, dict) else None
        seq = err.get("first_seq") if isinstance(err, dict) else None
        self.first_seq = seq if isinstance(seq, int) else None


# The API's own codes (README "The API"); any other code raises ApiError.
ERRORS = {
    "malformed": Malformed,
    "too_big": TooBig,
    "missing_field": MissingField,
    "invalid": Invalid,
    "unknown_op": UnknownOp,
    "not_found": NotFound,
    "timeout": DaemonTimeout,
    "unavailable": Unavailable,
    "internal": Internal,
    "pruned": Pruned,
}


def api_error(code, message, op=None, reply=None):
    """The exception for an error reply with this code."""
    cls = ERRORS.get(code, ApiError)
    return cls(code, message, op, reply)
