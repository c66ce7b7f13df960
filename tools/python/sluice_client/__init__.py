"""sluice_client: the Python client of sluiced (README "Python client").

    from sluice_client import Client, NotFound
    with Client(api="tcp://127.0.0.1:5570", pub="tcp://127.0.0.1:5571") as c:
        pid = c.start_pipeline(name="demo", config={...})
        print(c.wait(pid, timeout=600)["status"])

Depends only on pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""
from .client import DEFAULT_API, DEFAULT_PUB, DEFAULT_TIMEOUT, FINAL, Client
from .curve import Curve
from .errors import (ERRORS, ApiError, DaemonTimeout, Internal, Invalid, Malformed,
                     MissingField, NotFound, ProtocolError, Pruned, SluiceError, Timeout, TooBig,
                     Unavailable, UnknownOp)
from .events import EventStream

__version__ = "0.1.0"

__all__ = [
    "Client", "Curve", "EventStream", "FINAL", "DEFAULT_API", "DEFAULT_PUB", "DEFAULT_TIMEOUT",
    "SluiceError", "Timeout", "ProtocolError", "ApiError", "ERRORS", "Malformed", "TooBig",
    "MissingField", "Invalid", "UnknownOp", "NotFound", "DaemonTimeout", "Unavailable",
    "Internal", "Pruned",
]
