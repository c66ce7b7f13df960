"""curve.py: CURVE keys for a sluiced whose API and PUB sockets require them.

The same keys as sluicectl's --curve-server-key and --curve-client (README
"CURVE security"): the server's public certificate and the client's secret
certificate, czmq zcert files as sluice-keygen writes them (ZPL text whose
`curve` section holds `public-key` and `secret-key` as 40-character Z85
strings). Keys may also be given directly, as Z85 text or 32 raw bytes.
"""
import os
import re

import zmq
from zmq.utils import z85

_KEY_LINE = re.compile(r'^\s*(public-key|secret-key)\s*=\s*(["\']?)([^"\'\s]{40})\2\s*$')


def _key(value, what):
    if isinstance(value, str):
        value = value.encode("ascii")
    if isinstance(value, (bytes, bytearray)) and len(value) == 40:
        try:
            value = z85.decode(bytes(value))
        except Exception:
            raise ValueError("%s: not a Z85 key" % what)
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError("%s: a key is 40 Z85 characters or 32 bytes" % what)
    return bytes(value)


def read_cert(path):
    """{'public-key': bytes, 'secret-key'?: bytes} from a zcert file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(16384)
    except OSError as e:
        raise ValueError("'%s' is not a readable certificate: %s" % (path, e.strerror))
    keys = {}
    for line in text.splitlines():
        m = _KEY_LINE.match(line)
        if m and m.group(1) not in keys:
            keys[m.group(1)] = _key(m.group(3), "%s: %s" % (path, m.group(1)))
    return keys


class Curve:
    """The client's side of CURVE: the server's public key and the client's
    key pair. Applied to every socket the client opens, before it connects."""

    def __init__(self, server_public, client_public, client_secret):
        self.server_public = _key(server_public, "server public key")
        self.client_public = _key(client_public, "client public key")
        self.client_secret = _key(client_secret, "client secret key")

    @classmethod
    def from_files(cls, server_key, client):
        """server_key: the server's certificate (public-key is read);
        client: the client's secret certificate (public-key and secret-key),
        as sluicectl's --curve-server-key and --curve-client."""
        server = read_cert(server_key)
        if "public-key" not in server:
            raise ValueError("curve server key: '%s' is not a certificate with a public-key"
                             % server_key)
        pair = read_cert(client)
        if "public-key" not in pair or "secret-key" not in pair:
            raise ValueError("curve client: '%s' is not a secret certificate "
                             "(public-key and secret-key)" % client)
        return cls(server["public-key"], pair["public-key"], pair["secret-key"])

    @classmethod
    def from_env(cls):
        """From SLUICE_CURVE_SERVER_KEY and SLUICE_CURVE_CLIENT (the files,
        as sluicectl reads them); None when neither is set."""
        server = os.environ.get("SLUICE_CURVE_SERVER_KEY", "")
        client = os.environ.get("SLUICE_CURVE_CLIENT", "")
        if not server and not client:
            return None
        if not server or not client:
            raise ValueError("CURVE needs both SLUICE_CURVE_SERVER_KEY and SLUICE_CURVE_CLIENT")
        return cls.from_files(server, client)

    def apply(self, sock):
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_public)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.client_public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.client_secret)


def as_curve(curve):
    """A Curve from what Client(curve=...) accepts: None, a Curve, or a pair
    of paths (server certificate, client secret certificate)."""
    if curve is None or isinstance(curve, Curve):
        return curve
    if isinstance(curve, (tuple, list)) and len(curve) == 2:
        return Curve.from_files(curve[0], curve[1])
    raise ValueError("curve: a Curve or (server certificate, client secret certificate)")
