"""The SSRF guard's table of addresses."""

import asyncio

import re

import pytest
from hypothesis import given, settings, strategies as st

from axhub.netguard import HTTP_URL_PATTERN, Blocked, Guard

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


# --- Every way of writing an address reads as that address (the save-time check) ---

import ipaddress  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from axhub.netguard import is_public, literal  # noqa: E402

NON_PUBLIC_V4 = ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
                 "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "192.0.2.0/24", "198.18.0.0/15"]


def _in(network):
    net = ipaddress.ip_network(network)
    return st.integers(int(net.network_address), int(net.broadcast_address)).map(ipaddress.IPv4Address)


def _part(n, style):
    return {"dec": str(n), "hex": hex(n), "HEX": "0X" + format(n, "X"), "oct": "0" + format(n, "o") if n else "0"}[style]


@st.composite
def written(draw, addresses):
    """An IPv4 address as a URL host, in one of the forms a resolver reads as it."""
    address = draw(addresses)
    value, octets = int(address), address.packed
    style = st.sampled_from(["dec", "hex", "HEX", "oct"])
    form = draw(st.sampled_from(["dotted", "int", "two", "three", "mapped", "nat64", "6to4"]))
    if form == "dotted":
        return ".".join(_part(o, draw(style)) for o in octets)
    if form == "int":
        return _part(value, draw(style))
    if form == "two":
        return f"{_part(octets[0], draw(style))}.{_part(value & 0xFFFFFF, draw(style))}"
    if form == "three":
        return f"{_part(octets[0], draw(style))}.{_part(octets[1], draw(style))}.{_part(value & 0xFFFF, draw(style))}"
    if form == "mapped":
        return f"[::ffff:{address}]"
    if form == "nat64":
        return f"[{ipaddress.IPv6Address(int(ipaddress.IPv6Address('64:ff9b::')) | value)}]"
    return f"[{ipaddress.IPv6Address((0x2002 << 112) | (value << 80))}]"


@given(written(st.one_of(*[_in(n) for n in NON_PUBLIC_V4])))
def test_a_non_public_address_is_refused_at_save_however_it_is_written(host):
    url = f"http://{host}/hook"
    with pytest.raises(Blocked):
        Guard().check_destination(url)
    with pytest.raises(Blocked):  # and at send: the same table
        resolve(Guard(), url)


@given(st.data(), st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_every_form_is_judged_as_its_address(data, address):
    host = data.draw(written(st.just(address)))
    read = literal(host)
    assert read is not None
    if read.version == 4:
        assert read == address
    assert is_public(read) == is_public(address)


@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_integer_forms_are_the_address(address):
    assert literal(str(int(address))) == address == literal(hex(int(address)))


def test_the_allow_list_admits_an_address_in_every_form():
    guard = Guard.from_env({"AXHUB_OUTBOUND_ALLOW": "127.0.0.0/8"})
    for host in ("127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1"):
        assert guard.check_destination(f"http://{host}/")[0] == host


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "0x", "08.1.1.1", "256.1.1.1", "1.2.3.256", "4294967296", "[::g]"])
def test_names_and_malformed_numbers_are_not_addresses(host):
    assert literal(host) is None


@given(st.text("0123456789abcdefxX.", min_size=1, max_size=20))
def test_numbers_the_system_resolver_reads_are_read_alike(host):
    """Whatever inet_aton (the reading getaddrinfo applies to a numeric host) takes for
    an address, the save-time check takes for the same one."""
    import socket

    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return
    assert literal(host) == expected


@settings(max_examples=300, deadline=None)
@given(url=st.from_regex(HTTP_URL_PATTERN, fullmatch=True))
def test_every_url_the_declared_pattern_admits_is_read_by_the_guard(url):
    # The OpenAPI declares the pattern; the guard must read all it admits (its other
    # refusals are the operator's rules, which the schema leaves to the server).
    host, port = Guard().check_url(url)
    assert host and 0 <= port <= 65535


@pytest.mark.parametrize("url", ["http://[0]/", "http://[1.2.3.4]/", "http://[::1/", "http://a\uff0fb/",
                                 "http://h:99999/"])
def test_urls_python_cannot_read_are_refused_not_raised(url):
    assert not re.fullmatch(HTTP_URL_PATTERN, url)
    with pytest.raises(Blocked):
        Guard().check_url(url)
