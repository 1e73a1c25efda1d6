"""TLS on both OTLP listeners, with a throwaway self-signed certificate."""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc

from tests.fixtures import otlp_requests

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls_on_grpc_and_http(app_factory, storage, certificate):
    cert, key = certificate
    app = app_factory(storage=storage, tls_cert=str(cert), tls_key=str(key))
    _, request = next(otlp_requests("fresh_tool"))
    records = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)

    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"localhost:{app.ports['otlp_grpc']}", credentials) as channel:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10)
    # Plaintext gRPC against the TLS port fails.
    with grpc.insecure_channel(f"127.0.0.1:{app.ports['otlp_grpc']}") as channel:
        with pytest.raises(grpc.RpcError):
            logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=5)

    context = ssl.create_default_context(cafile=str(cert))
    connection = http.client.HTTPSConnection("localhost", app.ports["otlp_http"], context=context, timeout=10)
    connection.request("POST", "/v1/logs", body=request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    assert connection.getresponse().status == 200
    connection.close()
    # Both deliveries stored; the identical second request dedups in events.
    assert storage.query_rows("SELECT count() FROM events FINAL")[0][0] == records
