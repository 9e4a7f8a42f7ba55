"""The SSRF guard's table of addresses."""

import asyncio

import pytest

from axhub.netguard import Blocked, Guard

REFUSED = [
    "http://127.0.0.1/", "http://127.1.2.3/", "http://[::1]/", "http://0.0.0.0/", "http://[::]/",
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/", "http://224.0.0.1/", "http://240.0.0.1/", "http://255.255.255.255/",
    "http://[fe80::1]/", "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/", "http://localhost/", "http://192.0.2.1/",
    "http://198.18.0.1/",
]
ALLOWED = ["http://93.184.216.34/", "https://8.8.8.8/hook", "http://[2606:4700:4700::1111]/"]


def resolve(guard, url):
    return asyncio.run(guard.resolve(url))


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_destinations_are_refused(url):
    with pytest.raises(Blocked):
        resolve(Guard(), url)


@pytest.mark.parametrize("url", ALLOWED)
def test_public_destinations_pass(url):
    assert resolve(Guard(), url)


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "http://user:pw@8.8.8.8/", "http:///x",
                                 "gopher://8.8.8.8/"])
def test_bad_urls_are_refused(url):
    with pytest.raises(Blocked):
        resolve(Guard(), url)


def test_operator_allow_list_opens_exceptions():
    guard = Guard.from_env({"AXHUB_OUTBOUND_ALLOW": "127.0.0.0/8,receiver.internal"})
    assert resolve(guard, "http://127.0.0.1:9000/") == ["127.0.0.1"]
    with pytest.raises(Blocked):
        resolve(guard, "http://10.0.0.1/")


def test_https_only():
    guard = Guard.from_env({"AXHUB_OUTBOUND_HTTPS_ONLY": "1"})
    with pytest.raises(Blocked):
        resolve(guard, "http://8.8.8.8/")
    assert resolve(guard, "https://8.8.8.8/")


def test_requests_go_to_the_checked_address_with_the_original_host():
    """``Guard.request`` resolves and checks at the time of the call, then connects to
    the address it checked (no second lookup a rebinding DNS could answer differently)."""
    import socket

    import httpx

    from axhub.testing.receiver import Receiver

    with Receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "localhost") + "/in"

        async def send(guard):
            async with httpx.AsyncClient() as client:
                return await guard.request(client, "POST", url, content=b"{}")

        with pytest.raises(Blocked):
            asyncio.run(send(Guard()))
        assert receiver.requests == []
        if socket.getaddrinfo("localhost", receiver.port, type=socket.SOCK_STREAM)[0][4][0] != "127.0.0.1":
            pytest.skip("localhost resolves to IPv6 first here; the receiver listens on 127.0.0.1")
        response = asyncio.run(send(Guard(["127.0.0.0/8", "::1/128"])))
        assert response.status_code == 200
        [request] = receiver.requests
        assert request.headers["host"] == f"localhost:{receiver.port}" and request.path == "/in"
