"""Target times: a zone is mandatory, the result is UTC, fractions are kept."""

import datetime

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import (
    TargetTimeError, format_utc, parse_target_time, parse_timestamp)

UTC = datetime.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20T23:45:00+02:00", "2026-11-20T21:45:00Z"),
    ("2026-11-20T21:45:00Z", "2026-11-20T21:45:00Z"),
    ("2026-11-20t21:45:00z", "2026-11-20T21:45:00Z"),
    ("2026-11-20 23:45:00+02:00", "2026-11-20T21:45:00Z"),
    ("2026-11-21T01:15:00+03:30", "2026-11-20T21:45:00Z"),
    ("2026-11-20T18:45:00-03:00", "2026-11-20T21:45:00Z"),
    ("2026-11-20T21:45:00.5Z", "2026-11-20T21:45:00.5Z"),
    ("2026-11-20T23:45:00.123456789+02:00", "2026-11-20T21:45:00.123456789Z"),
    ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z"),
])
def test_normalises_to_utc(text, expected):
    assert parse_target_time(text).text == expected


def test_instant_is_aware_utc_with_microseconds():
    target = parse_target_time("2026-11-20T23:45:00.1234567+02:00")
    assert target.instant == datetime.datetime(2026, 11, 20, 21, 45, 0, 123456, tzinfo=UTC)


def test_naive_time_is_refused_with_the_fix():
    with pytest.raises(TargetTimeError) as error:
        parse_target_time("2026-11-20T23:45:00")
    message = str(error.value)
    assert "no time zone" in message and "UTC" in message
    assert "2026-11-20T23:45:00Z" in message and "2026-11-20T23:45:00+02:00" in message


@pytest.mark.parametrize("text", ["yesterday", "2026-11-20", "2026-11-20T23:45Z", "20261120T000002",
                                  "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-20T25:00:00Z",
                                  "2026-11-20T23:45:00+25:00", ""])
def test_malformed_times_are_refused(text):
    with pytest.raises(TargetTimeError):
        parse_target_time(text)


def test_error_names_the_option():
    with pytest.raises(TargetTimeError, match="recovery.targetTime"):
        parse_target_time("soon", option="recovery.targetTime")


@pytest.mark.parametrize("text, expected", [
    ("2026-11-30 08:02:53.068603+00:00", datetime.datetime(2026, 11, 30, 8, 2, 53, 68603, tzinfo=UTC)),
    ("2026-11-30T10:02:53+02:00", datetime.datetime(2026, 11, 30, 8, 2, 53, tzinfo=UTC)),
    ("2026-11-30 08:02:53", datetime.datetime(2026, 11, 30, 8, 2, 53, tzinfo=UTC)),
    ("Mon Nov 30 08:02:53 2026", datetime.datetime(2026, 11, 30, 8, 2, 53, tzinfo=UTC)),
])
def test_barman_timestamps(text, expected):
    assert parse_timestamp(text) == expected


def test_unknown_timestamp_is_an_error():
    with pytest.raises(ValueError):
        parse_timestamp("last tuesday")


def test_format_utc_drops_zero_fraction():
    assert format_utc(datetime.datetime(2026, 11, 20, 21, 45, tzinfo=UTC)) == "2026-11-20T21:45:00Z"
    offset = datetime.timezone(datetime.timedelta(hours=2))
    assert format_utc(datetime.datetime(2026, 11, 20, 23, 45, 0, 500, tzinfo=offset)) == "2026-11-20T21:45:00.000500Z"
