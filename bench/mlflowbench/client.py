"""A small keep-alive HTTP client for the benchmark.

The benchmark talks to both servers with the same requests the mlflow
client sends, but through http.client with bodies serialized ahead of the
timed regions, so that the client's own Python work (protobuf conversions,
retries, logging) weighs as little as possible in the figures: client and
servers share the machine.
"""

import base64
import http.client
import json
import urllib.parse


class BenchError(Exception):
    """A server answered something other than what the workload needs."""


class Server:
    """Where one server is: its base URL (the tracking URI), the
    Authorization header to send, if any, and how long to wait for one
    answer. Picklable, so worker processes get it as an argument."""

    def __init__(self, name, tracking_uri, user=None, password=None, timeout=600):
        self.name = name
        self.timeout = timeout
        self.tracking_uri = tracking_uri.rstrip("/")
        u = urllib.parse.urlsplit(self.tracking_uri)
        self.host, self.port, self.prefix = u.hostname, u.port or 80, u.path
        self.auth = None
        if user:
            self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def connect(self):
        return Conn(self)


def connect(server):
    # The mlflow client sends through requests and urllib3, whose
    # connections write a file body 16 KiB at a time (http.client alone:
    # 8 KiB, which held artifact uploads to ~580 MB/s against ~780 with
    # 1 MiB writes, whatever the server).
    return http.client.HTTPConnection(server.host, server.port, timeout=server.timeout, blocksize=16384)


class Conn:
    """One persistent connection to a server."""

    def __init__(self, server):
        self.s = server
        self.c = connect(server)

    def close(self):
        self.c.close()

    def request(self, method, path, body=None, headers=None):
        """Sends one request and returns (status, body bytes); reconnects
        once if the server closed the idle connection."""
        h = {"Content-Type": "application/json"}
        if self.s.auth:
            h["Authorization"] = self.s.auth
        if headers:
            h.update(headers)
        for attempt in (0, 1):
            try:
                self.c.request(method, self.s.prefix + path, body=body, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.c.close()
                self.c = connect(self.s)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, method, path, body=None, want=200):
        """Sends one API request (body: bytes, or an object to encode as
        JSON) and returns the decoded JSON answer."""
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        status, data = self.request(method, path, body)
        if status != want:
            raise BenchError(f"{self.s.name}: {method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else {}

    def stream(self, method, path, fileobj=None, size=None, sink=None):
        """Sends fileobj (size bytes) as the body and/or reads the answer
        into sink(chunk) 1 MiB at a time; returns the status."""
        h = {}
        if self.s.auth:
            h["Authorization"] = self.s.auth
        if fileobj is not None:
            h["Content-Type"] = "application/octet-stream"
            h["Content-Length"] = str(size)
        self.c.request(method, self.s.prefix + path, body=fileobj, headers=h)
        r = self.c.getresponse()
        if r.status != 200:
            raise BenchError(f"{self.s.name}: {method} {path}: HTTP {r.status}: {r.read()[:300]!r}")
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            if sink:
                sink(chunk)
        return r.status


API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
