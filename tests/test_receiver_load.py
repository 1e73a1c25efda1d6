"""Load under attack: while half-sent gRPC streams, idle HTTP connections, amplifying
requests and large JSON requests press on the receiver, every ordinary small export from
other tenants is answered OK and stored exactly once. Bounded: a few hundred requests."""

from __future__ import annotations

import socket
import threading

import grpc

from tests.test_receiver_hostile import HalfSent, _amplifier, _big_json, export, prompt
from tests.test_receiver_http import post

WORKERS = 6
PER_WORKER = 15


def test_small_exports_succeed_while_the_receiver_is_attacked(app_factory, storage):
    app = app_factory(
        storage=storage, receiver_tokens="attacker=orgX,tenant=orgT", max_connections=64, receive_timeout=20.0,
    )
    http_port = app.ports["otlp_http"]
    stalled = HalfSent(app, 24, token="attacker")
    idle = [socket.create_connection(("127.0.0.1", http_port), timeout=10) for _ in range(8)]
    failures: list[str] = []
    refused = {"amplifier": 0}
    big_ok = {"count": 0}
    stop = threading.Event()

    def tenant(worker: int) -> None:
        for index in range(PER_WORKER):
            session = f"load-{worker}-{index}"
            try:
                if index % 2:
                    status, _, body = post(http_port, "/v1/logs", prompt(session).SerializeToString(),
                                           headers={"Authorization": "Bearer tenant"})
                    if status != 200:
                        failures.append(f"{session}: HTTP {status} {body[:100]!r}")
                else:
                    export(app, prompt(session), token="tenant", timeout=60)
            except grpc.RpcError as exc:
                failures.append(f"{session}: {exc.code()} {exc.details()}")

    def amplify() -> None:
        while not stop.is_set():
            try:
                export(app, _amplifier(20_000), token="attacker", timeout=60)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refused["amplifier"] += 1

    def big() -> None:
        body = _big_json(60_000)
        for _ in range(2):
            status, _, _ = post(http_port, "/v1/logs", body, "application/json", headers={"Authorization": "Bearer attacker"})
            if status == 200:
                big_ok["count"] += 1

    attackers = [threading.Thread(target=amplify), threading.Thread(target=big)]
    tenants = [threading.Thread(target=tenant, args=(w,)) for w in range(WORKERS)]
    try:
        for thread in attackers + tenants:
            thread.start()
        for thread in tenants:
            thread.join(300)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(300)
        stalled.close()
        for sock in idle:
            sock.close()
    assert not failures, failures[:5]
    stored = storage.query_rows(
        "SELECT count(), uniqExact(LogAttributes['session.id']) FROM otel_logs WHERE OrgId = 'orgT'")[0]
    assert tuple(stored) == (WORKERS * PER_WORKER, WORKERS * PER_WORKER)
    assert refused["amplifier"] >= 1
    assert big_ok["count"] == 2
    # The same big body twice: stored once (insert dedup), under the attacker's own org.
    assert storage.query_rows("SELECT count() FROM otel_logs WHERE OrgId = 'orgX'")[0][0] == 300
