"""axhub.templates: what notifying plugins fill their messages with."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axhub import SettingsError, templates

plain = st.text(alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=30)
names = st.sampled_from(sorted(templates.PLACEHOLDERS))


@given(st.lists(st.tuples(plain, names), min_size=1, max_size=6), plain, st.dictionaries(names, plain))
def test_known_placeholders_pass_and_every_one_is_filled_escaped(parts, tail, values):
    template = "".join(f"{text}{{{name}}}" for text, name in parts) + tail
    if not template.strip():
        return
    templates.check("t", template)
    shout = lambda s: f"<{s}>"  # noqa: E731 - a visible escape
    out = templates.render(template, values, shout)
    expected = "".join(text + shout(values.get(name, "")) for text, name in parts) + tail
    assert out == expected


@given(plain, plain)
def test_a_lone_brace_is_refused_wherever_it_is(before, after):
    for brace in "{}":
        with pytest.raises(SettingsError) as caught:
            templates.check("messageTemplates.eventReminder", f"{before}{brace}{after}x")
        assert caught.value.field == "messageTemplates.eventReminder" and "brace" in str(caught.value)


@pytest.mark.parametrize("template, fault", [
    ("Rappel: {eventNom}", "unknown placeholder {eventNom}"),
    ("{{eventName}}", "unbalanced braces"),
    ("   ", "must not be empty"),
    ("x" * 4001, "at most 4000"),
])
def test_faults_are_named(template, fault):
    with pytest.raises(SettingsError) as caught:
        templates.check("f", template)
    assert fault in str(caught.value)


def test_values_in_the_organisations_language_and_zone():
    now = datetime(2026, 11, 25, 13, 15, tzinfo=timezone.utc)
    data = {"title": "Formation <RGPD> & co", "start": "2026-11-25T13:30:00Z", "location": "Salle 2",
            "organizer": {"email": "anne@example.com", "name": "Anne"}, "attendees": [{"email": "a@x.fr"}] * 12,
            "attendanceRate": 45.5}
    fr = templates.values_for(data, templates.Formatter("Europe/Paris", "fr"), now)
    assert fr["eventDate"] == "mercredi 25 novembre 2026" and fr["eventTime"] == "14:30"
    assert fr["timeUntil"] == "15 minutes" and fr["attendanceRate"] == "45,5" and fr["attendeeCount"] == "12"
    assert fr["organizer"] == "Anne" and fr["eventName"] == "Formation <RGPD> & co"
    en = templates.values_for(data, templates.Formatter("America/New_York", "en"), now + timedelta(minutes=-45))
    assert en["eventDate"] == "Wednesday, November 25, 2026" and en["eventTime"] == "8:30\u202fAM"
    assert en["timeUntil"] == "1 hour" and en["attendanceRate"] == "45.5"


_PIECES = st.sampled_from(["{", "}", " ", "\n", "\t", "\u00a0", "x", "é", "{eventName}", "{when}", "{}", "{{eventName}}"])


@given(st.lists(_PIECES, max_size=8).map("".join))
def test_the_declared_pattern_is_what_check_accepts(template):
    try:
        templates.check("t", template)
        accepted = True
    except SettingsError:
        accepted = False
    assert (re.search(templates.pattern(), template) is not None) == accepted
