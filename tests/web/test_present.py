"""How the review pages write times: Beijing time, and never an error for a time at the end of the calendar."""
from datetime import datetime, timezone

from server.review.present import local_time


def test_utc_text_and_datetimes_are_written_in_beijing_time():
    assert local_time("2026-11-27T16:05:00Z") == "2026-11-28 00:05"
    assert local_time(datetime(2026, 11, 27, 16, 5, 9, tzinfo=timezone.utc), with_seconds=True) == "2026-11-28 00:05:09"
    assert local_time(None) == "—"


def test_times_beijing_would_push_past_year_9999_are_shown_as_sent():
    # A visit round may legally say it ended at 9999-12-31T23:59:59Z; the page must still render (it was a 500).
    assert local_time("9999-12-31T23:59:59Z") == "9999-12-31T23:59:59Z"
    assert local_time(datetime(9999, 12, 31, 23, 0, tzinfo=timezone.utc)) == "9999-12-31T23:00:00+00:00"
    assert local_time("not a time") == "not a time"
