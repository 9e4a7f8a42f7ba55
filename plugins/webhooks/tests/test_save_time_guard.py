"""A destination the send would refuse is refused when it is saved (connect and
settings), in every way an address can be written; the operator's allow-list admits."""

import pytest
from whtools import connect, endpoint

# 127.0.0.1 is opened by the allow-list of these hubs (the receiver is on loopback).
REFUSED = [
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/", "http://0.0.0.0/", "http://127.0.0.2/", "http://[::1]/", "http://[::]/",
    "http://[::ffff:10.0.0.1]/", "http://[::ffff:127.0.0.2]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a00:1::]/",
    "http://[fe80::1]/", "http://[fc00::1]/", "http://2130706434/", "http://0x7f000002/", "http://0177.0.0.2/",
    "http://167772161/", "http://0xa9fea9fe/", "http://10.1/", "http://224.0.0.1:8080/",
]
ADMITTED = ["http://127.0.0.1:9/x", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.0.0.1./"]


@pytest.mark.parametrize("url", REFUSED)
def test_connect_refuses_a_non_public_address(live, url):
    api = live.client("manager")
    before = api.get("/api/integrations").json()["data"]
    response = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {"eventCreated": endpoint(url)}}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "settings.webhooks.eventCreated.url", error
    assert "non-public" in error["message"]
    assert api.get("/api/integrations").json()["data"] == before  # nothing half-written


@pytest.mark.parametrize("url", REFUSED)
def test_settings_refuse_a_non_public_address(live, url):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint("https://hooks.example.com/in")})["integrationId"]
    response = api.put(f"/api/integrations/{integration}/settings",
                       json={"settings": {"webhooks": {"attendanceUpdated": endpoint(url)}}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "settings.webhooks.attendanceUpdated.url", error
    saved = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]["webhooks"]
    assert list(saved) == ["eventCreated"]


@pytest.mark.parametrize("url", ADMITTED)
def test_the_allow_list_admits_its_addresses_in_every_form(live, url):
    api = live.client("manager")
    connect(api, {"eventCreated": endpoint(url)})


def test_host_names_are_left_to_the_send_time_check(live):
    """A name is only known to be private once resolved: it is saved, and the connection
    test (which resolves) reports the refusal."""
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint("http://localhost.localdomain.invalid/")})["integrationId"]
    assert api.post(f"/api/integrations/{integration}/test").status_code == 200
