"""Dates at the calendar's edge: every date parameter answers 200 or a 422 naming its field, never 500.

Python's datetime holds years 1 to 9999; a window or bucket computed from a date near either end
used to overflow (``/job-logs/statistics?since=9999-12-25…`` was a 500). Accepted dates are years
3 to 9997 (``api.schemas.EARLIEST``/``LATEST``); every bound computed from them stays inside.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.schemas import EARLIEST, LATEST, OUT_OF_RANGE

DATE_PARAMETERS = [
    ("/job-logs", "since"),
    ("/job-logs", "until"),
    ("/job-logs/statistics", "since"),
    ("/job-logs/statistics", "until"),
]
EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "0001-12-31T23:59:59Z",
    "0002-01-01T00:00:00Z",
    "0002-12-31T23:59:59Z",
    "0003-01-01T00:00:00Z",
    "0003-01-01T00:00:00-12:00",
    "0002-12-31T23:00:00-12:00",  # year 3 in UTC
    "9997-12-25T00:00:00Z",
    "9997-12-31T23:59:59Z",
    "9998-01-01T00:00:00Z",
    "9999-01-01T00:00:00Z",
    "9999-12-25T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",  # after year 9999 in UTC
]
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
ANY_DATE = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=ZONES
)
EDGE_DATE = st.sampled_from(EDGES) | ANY_DATE.map(lambda moment: moment.isoformat())
QUERY_FIELDS = {"since", "until", "time_period"}


def accepted(text: str) -> bool:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        return EARLIEST <= moment.astimezone(UTC) <= LATEST
    except OverflowError:
        return False


def check(response, query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 422), (query, response.get_data(as_text=True)[:300])
    if response.status_code == 422:
        errors = response.get_json()["errors"]["query"]
        assert set(errors) <= QUERY_FIELDS, (query, errors)
    for name, value in query.items():
        if name in ("since", "until") and not accepted(value):
            assert response.status_code == 422 and OUT_OF_RANGE in str(response.get_json()["errors"]), query


@pytest.mark.parametrize(("path", "name"), DATE_PARAMETERS)
@pytest.mark.parametrize("value", EDGES)
def test_each_date_parameter_at_the_edges(client, users, path, name, value):
    response = client.get(path, query_string={name: value}, headers=users.admin.headers)
    check(response, {name: value})
    if not accepted(value):
        assert list(response.get_json()["errors"]["query"]) == [name]


def test_the_reported_window_at_the_end_of_year_9999_is_a_422(client, users):
    response = client.get(
        "/job-logs/statistics?since=9999-12-25T00:00:00Z&until=9999-12-31T23:59:59Z",
        headers=users.admin.headers,
    )
    assert response.status_code == 422 and set(response.get_json()["errors"]["query"]) == {"since", "until"}


@pytest.mark.parametrize("period", ["hour", "day", "week", "month", "year"])
@pytest.mark.parametrize("until", ["0003-01-01T00:00:00Z", "9997-12-31T23:59:59Z"])
def test_computed_windows_from_the_edges_stay_in_the_calendar(client, users, period, until):
    """A period before the earliest ``until``, and week buckets at the latest: all computable."""
    response = client.get(
        "/job-logs/statistics",
        query_string={"time_period": period, "until": until},
        headers=users.admin.headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["series"], "the buckets were computed"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/job-logs", "/job-logs/statistics"]), since=EDGE_DATE, until=EDGE_DATE)
def test_any_pair_of_dates_is_answered_without_a_500(client, users, path, since, until):
    given_query = {"since": since, "until": until}
    check(client.get(path, query_string=given_query, headers=users.admin.headers), given_query)
