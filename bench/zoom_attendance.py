"""Zoom attendance figures, each printed beside the limit it is held to, the limit
measured in the same run on the same machine.

    .venv/bin/python bench/zoom_attendance.py [--participants 10000]

Reading a participant report and computing attendance from it (decoding the pages with
their times, grouping sessions by email, merging drops, rejoins and second devices,
applying minimumDuration, matching the attendees) is held to ≤ 2× the time the standard
library's ``json.loads`` takes merely to decode the same pages (300 records each): the
attendance work costs no more than one more plain decode of the report.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta, timezone

from axhub.sync import Attendee
from axhub_zoom.attendance import compute, decode_page

T0 = datetime(2024, 3, 15, 9, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(participants: int, rng: random.Random) -> list[bytes]:
    records = []
    for i in range(participants):
        at = rng.randint(0, 20)
        for _ in range(rng.choice((1, 1, 2, 3))):  # some drop and rejoin
            stay = rng.randint(1, 60)
            records.append({"id": f"p{i}", "user_id": str(i), "name": f"Person {i}",
                            "user_email": f"person{i}@example.org", "join_time": iso(T0 + timedelta(minutes=at)),
                            "leave_time": iso(T0 + timedelta(minutes=at + stay)), "duration": stay * 60,
                            "status": "in_meeting", "failover": False})
            at += stay + rng.randint(0, 10)
    return [json.dumps({"page_size": 300, "total_records": len(records), "next_page_token": "x",
                        "participants": records[i:i + 300]}).encode() for i in range(0, len(records), 300)]


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(7)
    pages = report(args.participants, rng)
    attendees = [Attendee(f"person{i}@example.org") for i in range(0, args.participants, 2)]

    decode = best(lambda: [json.loads(page) for page in pages])
    attend = best(lambda: compute([p for page in pages for p in decode_page(page).participants], attendees, 30))
    sessions = sum(len(json.loads(page)["participants"]) for page in pages)
    limit = 2 * decode
    ok = attend <= limit
    print(f"axhub Zoom attendance benchmark: {args.participants} participants, {sessions} sessions, "
          f"{len(pages)} pages, {len(attendees)} attendees")
    print(f"{'report read + attendance computed (ms)':<40} {attend * 1000:>10.1f}   limit {limit * 1000:.1f} "
          f"(2 x json.loads of the pages: {decode * 1000:.1f}) {'OK' if ok else 'OVER'}")


if __name__ == "__main__":
    main()
