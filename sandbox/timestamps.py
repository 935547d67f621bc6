"""The sandbox's one timestamp helper, the twin of the collection's `plugins/module_utils/rfc3339.py`.

The API server writes metav1.Time as RFC 3339 in UTC to the second (`2026-11-30T08:06:55Z`); what the sandbox
reads back is that, a MicroTime, Helm's nanosecond times or barman's ISO times (`2026-11-30 08:06:55.1+00:00`).
The sandbox runs on Python 3.11+, whose `fromisoformat` reads all of them (a zone-less time is taken as UTC).
"""

from __future__ import annotations

import datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse(text: str) -> datetime.datetime:
    """An aware UTC datetime from any RFC 3339 / ISO 8601 time; naive means UTC."""
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    """A metav1.Time: UTC, to the second."""
    return moment.astimezone(datetime.timezone.utc).strftime(TIME_FORMAT)


def now() -> str:
    """The current time as the API server writes it."""
    return format_time(datetime.datetime.now(datetime.timezone.utc))


def seconds_since(text: str) -> float:
    return (datetime.datetime.now(datetime.timezone.utc) - parse(text)).total_seconds()
