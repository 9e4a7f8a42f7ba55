"""The patterns the OpenAPI declares for Slack's settings are the checks the plugin
makes: a value matches the pattern (within the length) exactly when it is saved."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from axhub import SettingsError
from axhub_slack.settings import CHANNEL_PATTERN, MAX_CHANNEL, WEBHOOK_PATTERN, check_channel, check_webhook_url

# Names built from what matters: punctuation, lowercase and uppercase letters of several
# scripts, digits, spaces, line breaks, characters beyond the BMP, and channel ids.
_CHARS = st.sampled_from(list("-_.aézЖж0٣A É#CG\n\t") + ["\U0001d41a", "\u00a0", "\u2028"])
channels = st.one_of(
    st.builds(lambda s: "#" + s, st.text(_CHARS, max_size=84)),
    st.builds(lambda p, s: p + s, st.sampled_from(["C", "G", "c", ""]), st.text(st.sampled_from("ABZ09a\n"), max_size=12)),
    st.text(_CHARS, max_size=6),
)
urls = st.builds(lambda a, b, c: a + b + c,
                 st.sampled_from(["https://hooks.slack.com", "HTTPS://hooks.slack.com", "https://hooks.slack.com.evil",
                                  "https://hooks.slack.com:443", "http://hooks.slack.com", ""]),
                 st.text(st.sampled_from("/?#@:aZ \n\t"), max_size=8), st.sampled_from(["", "\n", "x"]))


def _accepted(check, value: str) -> bool:
    try:
        check("f", value)
    except SettingsError:
        return False
    return True


@given(channels)
def test_a_channel_matches_the_declared_pattern_exactly_when_it_is_accepted(value):
    declared = re.search(CHANNEL_PATTERN, value) is not None and len(value) <= MAX_CHANNEL
    assert declared == _accepted(check_channel, value)


@given(urls)
def test_a_webhook_url_matches_the_declared_pattern_exactly_when_it_is_accepted(value):
    assert (re.search(WEBHOOK_PATTERN, value) is not None) == _accepted(check_webhook_url, value)


def test_the_examples_of_the_docs():
    for ok in ("#général", "#équipe-présences.2024", "C0123456789", "#" + "a" * 80):
        assert re.search(CHANNEL_PATTERN, ok), ok
    for bad in ("#General", "#--", "#", "c0123456789", "#weekly reports", "#a\n"):
        assert not re.search(CHANNEL_PATTERN, bad), bad
