"""Properties of merging a participant's join/leave sessions (people drop, rejoin and
join from two devices at once)."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from axhub_zoom.attendance import merged_seconds

T0 = datetime(2024, 3, 15, 9, 0, tzinfo=timezone.utc)

sessions = st.lists(
    st.tuples(st.integers(0, 7200), st.integers(0, 3600)).map(
        lambda p: (T0 + timedelta(seconds=p[0]), T0 + timedelta(seconds=p[0] + p[1]))),
    max_size=30,
)


@given(sessions, st.randoms())
def test_merging_is_bounded_by_the_span_and_independent_of_order(items, rng):
    total = merged_seconds(items)
    if not items:
        assert total == 0
        return
    span = (max(e for _, e in items) - min(s for s, _ in items)).total_seconds()
    longest = max((e - s).total_seconds() for s, e in items)
    assert longest <= total <= min(span, sum((e - s).total_seconds() for s, e in items))
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert merged_seconds(shuffled) == total
    assert merged_seconds(items + items) == total  # a session reported twice counts once


@given(sessions)
def test_merging_counts_each_covered_second_once(items):
    # Against a direct count over whole seconds (sessions start and end on seconds).
    covered = set()
    for start, end in items:
        first = int((start - T0).total_seconds())
        covered.update(range(first, first + int((end - start).total_seconds())))
    assert merged_seconds(items) == len(covered)


def test_a_report_page_with_an_empty_time_is_still_read():
    from axhub_zoom.attendance import decode_page

    page = decode_page(b'{"next_page_token": "", "participants": ['
                       b'{"user_email": "a@x.org", "join_time": "2024-03-15T09:00:00Z", "leave_time": "2024-03-15T09:30:00Z"},'
                       b'{"user_email": "b@x.org", "join_time": "", "leave_time": ""}]}')
    assert [p.user_email for p in page.participants] == ["a@x.org", "b@x.org"]
    assert page.participants[0].leave_time == T0 + timedelta(minutes=30) and page.participants[1].join_time is None
