# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one timestamp helper: RFC 3339 times in, aware UTC datetimes out, and back.

- `parse_target_time`: a recovery target a person wrote. CloudNativePG reads a target time without a zone as UTC,
  which silently shifts a recovery by the operator's offset; so a zone is required here, and the value written to
  the values file is the UTC form.
- `parse_timestamp`: a time a program wrote (barman's backup.info, the Kubernetes API's Time and MicroTime).
- `format_utc`: `...Z` text of an aware datetime, with microseconds always (`micro=True`, a Kubernetes MicroTime) or
  only when not zero.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

# RFC 3339 date-time; a space instead of `T` is allowed by the RFC (and is what str() of a YAML timestamp gives).
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2}|[+-]\d{2})?$"
)


class TargetTimeError(CollectionError, ValueError):
    """A recovery target time that cannot be used, with what to write instead."""


class TargetTime:
    """A parsed target time: `instant` (aware, UTC, microsecond precision) and `text` (UTC RFC 3339).

    The fraction is kept digit for digit in `text` (PostgreSQL takes microseconds; more digits are not rounded).
    """

    __slots__ = ("instant", "text")

    def __init__(self, instant: datetime.datetime, text: str) -> None:
        self.instant = instant
        self.text = text

    def __repr__(self) -> str:
        return "TargetTime(%r)" % self.text


def parse_target_time(value: str, option: str = "target_time") -> TargetTime:
    """Parse an RFC 3339 time that names its zone; refuse naive or malformed times with an example of the fix."""
    text = str(value).strip()
    match = _RFC3339.match(text)
    if not match:
        raise TargetTimeError(
            "%s %r is not an RFC 3339 time: write it as YYYY-MM-DDTHH:MM:SS with a zone, e.g. "
            "2026-11-20T23:45:00+02:00 or 2026-11-20T21:45:00Z." % (option, text))
    if not match.group("zone"):
        raise TargetTimeError(
            "%s %r has no time zone, and CloudNativePG would read it as UTC. Add the zone it is meant in, e.g. "
            "%sT%sZ for UTC or %sT%s+02:00 for UTC+2." % (
                option, text, match.group("date"), match.group("time"), match.group("date"), match.group("time")))
    fraction = match.group("fraction") or ""
    try:
        local = datetime.datetime.strptime("%s %s" % (match.group("date"), match.group("time")), "%Y-%m-%d %H:%M:%S")
        zone = _parse_zone(match.group("zone"))
    except ValueError as exc:
        raise TargetTimeError("%s %r is not a valid date and time: %s." % (option, text, exc)) from None
    micro = int((fraction + "000000")[:6])
    instant = local.replace(microsecond=micro, tzinfo=zone).astimezone(datetime.timezone.utc)
    utc_text = instant.strftime("%Y-%m-%dT%H:%M:%S") + ("." + fraction if fraction else "") + "Z"
    return TargetTime(instant, utc_text)


def _parse_zone(zone: str) -> datetime.timezone:
    if zone in ("Z", "z"):
        return datetime.timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise ValueError("offset %s is out of range" % zone)
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


def parse_timestamp(value: str) -> datetime.datetime:
    """Parse a timestamp a program wrote (ISO 8601, `T` or space, optional zone, or ctime); naive means UTC.

    barman-cloud writes `2026-11-20 00:00:02.123456+00:00` in backup.info (old versions wrote ctime strings); the
    Kubernetes API writes `2026-11-20T00:00:02Z` (Time) and `2026-11-20T00:00:02.123456Z` (MicroTime).
    """
    text = str(value).strip()
    match = _RFC3339.match(text)
    if match:
        local = datetime.datetime.strptime("%s %s" % (match.group("date"), match.group("time")), "%Y-%m-%d %H:%M:%S")
        micro = int(((match.group("fraction") or "") + "000000")[:6])
        zone = _parse_zone(match.group("zone")) if match.group("zone") else datetime.timezone.utc
        return local.replace(microsecond=micro, tzinfo=zone).astimezone(datetime.timezone.utc)
    try:
        return datetime.datetime.strptime(text, "%a %b %d %H:%M:%S %Y").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise ValueError("%r is not a timestamp barman writes" % text) from None


def format_utc(instant: datetime.datetime, micro: bool = False) -> str:
    """`YYYY-MM-DDTHH:MM:SS[.ffffff]Z` of an aware datetime: the fraction always with `micro` (the Kubernetes
    MicroTime format, which a Lease's times must have), else only when not zero."""
    utc = instant.astimezone(datetime.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if micro or utc.microsecond:
        text += ".%06d" % utc.microsecond
    return text + "Z"
