"""Whatever a caller sends as settings, filters or bodies, the hub answers 2xx or a 4xx
with the spec's envelope and a code: never a 500, never a half-written change."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axhub.testing import connect

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
setting_keys = st.sampled_from([
    "syncDirection", "autoSync", "syncInterval", "calendarId", "eventPrefix", "includeDescription", "syncPrivateEvents",
    "eventMapping", "filters", "notifications", "titlePrefix", "colorId", "minDuration", "reminderMinutes",
]) | st.text(max_size=12)
settings_objects = st.dictionaries(setting_keys, json_values, max_size=5)
bodies = st.fixed_dictionaries({}, optional={
    "syncDirection": json_values, "autoSync": json_values, "syncInterval": json_values,
    "settings": settings_objects | json_values, "notifications": st.dictionaries(
        st.sampled_from(["syncErrors", "syncSuccess", "weeklyReport", "x"]), json_values, max_size=3) | json_values,
})
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(response):
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert body["success"] is False and body["error"]["code"] and body["error"]["message"]
    return body


@FUZZ
@given(body=bodies)
def test_settings_updates_never_fail_or_half_write(hub, body):
    with hub.client("manager") as api:
        integration = getattr(hub, "_fuzz_integration", None)
        if integration is None or api.get(f"/api/integrations/{integration}").status_code != 200:
            integration = hub._fuzz_integration = connect(api, "google")["integrationId"]
        before = api.get(f"/api/integrations/{integration}").json()["data"]
        response = api.put(f"/api/integrations/{integration}/settings", content=json.dumps(body),
                           headers={"content-type": "application/json"})
        check(response)
        after = api.get(f"/api/integrations/{integration}").json()["data"]
        if response.status_code == 400:
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert (after["settings"], after["notifications"]) == (before["settings"], before["notifications"])
        else:
            assert after["settings"] == response.json()["data"]["settings"]


@FUZZ
@given(connect_body=st.dictionaries(st.sampled_from(["scopes", "settings", "notifications", "redirectUri", "name", "x"]),
                                    json_values, max_size=4))
def test_connect_bodies_never_fail(hub, connect_body):
    with hub.client("manager") as api:
        check(api.post("/api/integrations/google/connect", content=json.dumps(connect_body),
                       headers={"content-type": "application/json"}))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["provider", "status", "type", "other"]), st.text(max_size=15), max_size=3))
def test_list_filters_never_fail(hub, params):
    with hub.client("manager") as api:
        response = api.get("/api/integrations", params=params)
        check(response)
        if response.status_code == 400:
            assert response.json()["error"]["field"] in params


@FUZZ
@given(raw=st.binary(max_size=64))
def test_garbage_bodies_are_validation_errors(hub, raw):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/google/callback", content=raw, headers={"content-type": "application/json"})
        assert check(response)["error"]["code"] in ("VALIDATION_ERROR", "OAUTH_ERROR")
