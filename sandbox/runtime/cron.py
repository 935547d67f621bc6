"""CNPG's six-field cron schedules (seconds first; five fields are read with seconds = 0), next run time."""

from __future__ import annotations

import datetime

_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class CronError(ValueError):
    pass


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = int(body)
            end = high if step_text else start
        if start < low or end > high or step < 1:
            raise CronError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def parse(schedule: str) -> list[set[int]]:
    parts = schedule.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise CronError(f"{schedule!r}: expected six fields (seconds minutes hours day month weekday)")
    try:
        fields = [_field(text, low, high) for text, (low, high) in zip(parts, _RANGES)]
    except ValueError as exc:
        raise CronError(f"{schedule!r}: {exc}") from exc
    if 7 in fields[5]:
        fields[5].add(0)
    return fields


def next_time(schedule: str, after: datetime.datetime) -> datetime.datetime:
    """The first time strictly after `after` (UTC) that matches `schedule`."""
    seconds, minutes, hours, days, months, weekdays = parse(schedule)
    moment = after.replace(microsecond=0) + datetime.timedelta(seconds=1)
    limit = moment + datetime.timedelta(days=366 * 4)
    while moment < limit:
        if moment.month not in months:
            moment = (moment.replace(day=1, hour=0, minute=0, second=0) + datetime.timedelta(days=32)).replace(day=1)
            continue
        if moment.day not in days or (moment.isoweekday() % 7) not in weekdays:
            moment = moment.replace(hour=0, minute=0, second=0) + datetime.timedelta(days=1)
            continue
        if moment.hour not in hours:
            moment = moment.replace(minute=0, second=0) + datetime.timedelta(hours=1)
            continue
        if moment.minute not in minutes:
            moment = moment.replace(second=0) + datetime.timedelta(minutes=1)
            continue
        if moment.second not in seconds:
            moment += datetime.timedelta(seconds=1)
            continue
        return moment
    raise CronError(f"{schedule!r} never matches")
