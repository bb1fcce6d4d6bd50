"""The server itself: routing, signatures, control plane, faults on the wire."""
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

from tests.support import make_ecs


def test_health_answers(control):
    assert control.call("GET", "/_local/health")["Status"] == "ok"


def test_unknown_action_is_refused_after_the_signature_is_checked(ecs):
    from alibabacloud_ecs20140526 import models as m
    with pytest.raises(ClientException) as exc:
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert exc.value.code == "InvalidAction.NotFound"
    assert exc.value.status_code == 404


def test_wrong_secret_is_refused(endpoint):
    from alibabacloud_ecs20140526 import models as m
    bad = make_ecs(endpoint, secret="not-the-secret")
    with pytest.raises(ClientException) as exc:
        bad.describe_regions(m.DescribeRegionsRequest())
    assert exc.value.code == "SignatureDoesNotMatch"


def test_faults_are_validated(control):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as exc:
        control.faults(throttle=2)
    assert exc.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        control.faults(nonsense=True)


def test_throttle_and_server_errors_reach_the_sdk_as_its_exceptions(control, ecs):
    from alibabacloud_ecs20140526 import models as m
    control.faults(throttle=1.0, products=["ecs"])
    with pytest.raises(ClientException) as exc:
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert exc.value.code == "Throttling.User"
    control.clear_faults()
    control.faults(server_error=1.0)
    with pytest.raises(ServerException) as exc:
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert exc.value.code == "InternalError"


def test_stats_count_every_call(control, ecs):
    from alibabacloud_ecs20140526 import models as m
    before = control.stats().get("ecs:DescribeRegions", 0)
    with pytest.raises(ClientException):
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert control.stats()["ecs:DescribeRegions"] == before + 1


def test_the_control_plane_takes_only_json_so_a_web_page_cannot_drive_it(endpoint, control):
    """A cross-site form or fetch without preflight can send text/plain, form or multipart bodies, never JSON."""
    import json
    import urllib.error
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"content-type": kind} if kind else {}
        request = urllib.request.Request(endpoint + "/_local/faults", data=json.dumps({"rules": []}).encode(),
                                         method="POST", headers=headers)
        if kind is None:
            request.remove_header("Content-type")
        with pytest.raises(urllib.error.HTTPError) as exc:
            opener.open(request, timeout=10)
        assert exc.value.code == 415, kind
    assert control.call("GET", "/_local/health")["Status"] == "ok"       # reads need no body
    # a body-less DELETE needs no type (docs/local-cloud.md's `curl -X DELETE …/_local/faults`): no page can send
    # DELETE cross-site without a preflight
    with opener.open(urllib.request.Request(endpoint + "/_local/faults", method="DELETE"), timeout=10) as answer:
        assert answer.status == 200


def test_the_server_takes_100_parallel_connections(endpoint):
    import socket
    import threading
    host, port = endpoint.removeprefix("http://").split(":")
    barrier, answers = threading.Barrier(100), []

    def one():
        barrier.wait()
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(f"GET /_local/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(4096):         # the whole answer, as a client does
                answer += chunk
            answers.append(answer[:12])

    threads = [threading.Thread(target=one) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(b"HTTP/1.0 200") + answers.count(b"HTTP/1.1 200") == 100


def raw_exchange(endpoint: str, request: bytes, timeout: float = 30) -> tuple[bytes, float]:
    """Send `request` as it is on a new connection to the server; its whole answer (until it closes the connection
    or `timeout`) and the seconds it took."""
    import socket
    import time
    host, port = endpoint.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except TimeoutError:
            pass
    return answer, time.monotonic() - started


def test_a_body_shorter_than_its_content_length_is_answered_408_not_waited_for(endpoint):
    host = endpoint.removeprefix("http://")
    answer, took = raw_exchange(endpoint, (f"POST /_local/faults HTTP/1.1\r\nHost: {host}\r\n"
                                           f"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                           f'{{"rules": []}}').encode(), timeout=20)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert took < 15                                        # a few seconds, then the connection and thread are freed


@pytest.mark.parametrize("length", ["abc", "-5", "1, 2", "\u00b2"])       # ² is a digit to str.isdigit
def test_a_content_length_that_is_no_length_is_answered_400(endpoint, length):
    host = endpoint.removeprefix("http://")
    answer, _ = raw_exchange(endpoint, (f"POST /_local/faults HTTP/1.1\r\nHost: {host}\r\n"
                                        f"Content-Length: {length}\r\n\r\n").encode("latin-1"), timeout=10)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
def test_the_loopback_names_with_the_servers_port_are_served(endpoint, name):
    port = endpoint.rsplit(":", 1)[1]
    answer, _ = raw_exchange(endpoint, (f"GET /_local/health HTTP/1.1\r\nHost: {name}:{port}\r\n"
                                        f"Connection: close\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("host", ["evil.example.com:{port}", "evil.example.com", "127.0.0.1", "localhost:1",
                                  "127.0.0.1:{port}.evil.example.com", "10.0.0.5:{port}", None])
def test_a_request_for_another_host_is_refused(endpoint, control, host):
    """A web page whose name an attacker points at 127.0.0.1 (DNS rebinding) sends its own name as Host."""
    port = endpoint.rsplit(":", 1)[1]
    header = "" if host is None else f"Host: {host.format(port=port)}\r\n"
    before = control.call("GET", "/_local/faults")
    answer, _ = raw_exchange(endpoint, (f"POST /_local/faults HTTP/1.1\r\n{header}Content-Type: application/json\r\n"
                                        f'Content-Length: 21\r\nConnection: close\r\n\r\n{{"server_error": 1.0}}').encode())
    assert answer.startswith(b"HTTP/1.1 421 " if host else b"HTTP/1.1 400 "), answer[:200]
    assert control.call("GET", "/_local/faults") == before                  # and the fault was not set


def test_bound_to_every_address_the_server_also_answers_ip_literals_but_never_names():
    from types import SimpleNamespace

    from localcloud.server import LocalCloudServer
    everywhere, loopback = SimpleNamespace(server_address=("0.0.0.0", 8900)), SimpleNamespace(
        server_address=("127.0.0.1", 8900))
    assert LocalCloudServer.serves(everywhere, "10.0.0.5:8900") and LocalCloudServer.serves(everywhere, "[fd00::1]:8900")
    assert not LocalCloudServer.serves(loopback, "10.0.0.5:8900")
    assert not LocalCloudServer.serves(everywhere, "evil.example.com:8900")
    assert not LocalCloudServer.serves(everywhere, "10.0.0.5:8901")
