#!/usr/bin/python3
"""Envoy's rate-limit service seen from python3-grpcio, independently of the
C++ client: stubs generated from our .proto files with protoc and Debian's
grpc_python_plugin, talking to rls_test_server over loopback.

usage: rls_python_client_test.py SERVER_BIN RATELIMIT_YAML STUBS_DIR
"""
import subprocess
import sys
import threading
import unittest

SERVER, CONFIG, STUBS = sys.argv[1:4]
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2  # noqa: E402
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc  # noqa: E402

Response = rls_pb2.RateLimitResponse


def request(domain, descriptors, hits=0):
    out = rls_pb2.RateLimitRequest(domain=domain, hits_addend=hits)
    for entries in descriptors:
        d = out.descriptors.add()
        for key, value in entries:
            d.entries.add(key=key, value=value)
    return out


class RlsFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = subprocess.Popen([SERVER, CONFIG], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        port = cls.server.stdout.readline().strip()
        assert port.isdigit(), "rls_test_server did not start"
        cls.channel = grpc.insecure_channel("127.0.0.1:" + port)
        cls.stub = rls_pb2_grpc.RateLimitServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stdin.close()
        cls.server.wait(timeout=10)

    def call(self, req):
        return self.stub.ShouldRateLimit(req, timeout=5)

    def assert_serving(self):
        self.assertEqual(self.call(request("edge", [[("client", "ldap")]])).overall_code,
                         Response.OK)

    def test_every_field(self):
        resp = self.call(request("edge", [[("remote_address", "192.0.2.1")], [("client", "ldap")]],
                                 hits=4))
        self.assertEqual(resp.overall_code, Response.OK)
        self.assertEqual(len(resp.statuses), 2)
        limited = resp.statuses[0]
        self.assertEqual(limited.code, Response.OK)
        self.assertEqual(limited.current_limit.name, "edge.remote_address")
        self.assertEqual(limited.current_limit.requests_per_unit, 10)
        self.assertEqual(limited.current_limit.unit, Response.RateLimit.SECOND)
        self.assertEqual(limited.limit_remaining, 6)
        self.assertEqual(limited.duration_until_reset.ToNanoseconds(), 400_000_000)
        self.assertEqual(resp.statuses[1].limit_remaining, 2**32 - 1)
        headers = {h.key: h.value for h in resp.response_headers_to_add}
        self.assertEqual(headers["RateLimit-Policy"], '"edge.remote_address";q=10;w=1')
        self.assertEqual(headers["RateLimit"], '"edge.remote_address";r=6;t=1')
        self.assertEqual(headers["X-RateLimit-Remaining"], "6")
        self.assertNotIn("Retry-After", headers)

        resp = self.call(request("edge", [[("remote_address", "192.0.2.1")]], hits=7))
        self.assertEqual(resp.overall_code, Response.OVER_LIMIT)
        self.assertEqual(resp.statuses[0].code, Response.OVER_LIMIT)
        self.assertEqual(resp.statuses[0].limit_remaining, 6)
        headers = {h.key: h.value for h in resp.response_headers_to_add}
        self.assertEqual(headers["Retry-After"], "1")

    def test_nested_wildcard_and_replaces(self):
        resp = self.call(request("edge", [[("path", "/api/v1/search")],
                                          [("path_user", "/api/v1/search"), ("user", "alice")]]))
        self.assertFalse(resp.statuses[0].HasField("current_limit"))
        self.assertEqual(resp.statuses[1].current_limit.requests_per_unit, 1200)
        resp = self.call(request("edge", [[("path", "/api/v1/orders")]]))
        self.assertEqual(resp.statuses[0].current_limit.name, "api_v1")

    def test_concurrent_clients_never_admit_more_than_the_limit(self):
        results = []
        lock = threading.Lock()

        def worker():
            for _ in range(20):
                resp = self.call(request("edge", [[("message_type", "marketing"),
                                                   ("to_number", "2065550199")]]))
                with lock:
                    results.append(resp.overall_code)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results.count(Response.OK), 5)
        self.assertEqual(results.count(Response.OVER_LIMIT), 115)

    def test_bad_requests(self):
        cases = [
            (request("", [[("remote_address", "192.0.2.2")]]), grpc.StatusCode.INVALID_ARGUMENT,
             "rate limit domain must not be empty"),
            (request("nope", [[("remote_address", "192.0.2.2")]]), grpc.StatusCode.NOT_FOUND,
             "unknown domain 'nope'"),
            (request("edge", []), grpc.StatusCode.INVALID_ARGUMENT,
             "rate limit descriptor list must not be empty"),
            (request("edge", [[("remote_address", "192.0.2.2")]] * 10000),
             grpc.StatusCode.INVALID_ARGUMENT, "10000 descriptors in one request; at most 128"),
            (request("edge", [[("remote_address", "x" * 10000)]]),
             grpc.StatusCode.INVALID_ARGUMENT, "descriptor 0 entry 0 is longer than 4096 bytes"),
            (request("edge", [[("remote_address", "x" * (3 << 20))]]),
             grpc.StatusCode.RESOURCE_EXHAUSTED, None),
        ]
        for req, code, message in cases:
            with self.assertRaises(grpc.RpcError) as raised:
                self.call(req)
            self.assertEqual(raised.exception.code(), code)
            if message:
                self.assertEqual(raised.exception.details(), message)
            self.assert_serving()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
