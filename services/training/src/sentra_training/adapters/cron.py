"""Cron expressions in a department's time zone (croniter, zoneinfo): the domain's `NextRun`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


def next_run(expression: str, time_zone: str, after: datetime) -> datetime:
    """When `expression` fires next after `after`, read in `time_zone`; in UTC."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r}; use an IANA name such as Europe/Madrid") from None
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"bad cron expression {expression!r}: five fields, minute hour day month weekday, "
                         "e.g. \"0 18 * * fri\" (Friday 18:00)")
    return croniter(expression, after.astimezone(zone)).get_next(datetime).astimezone(UTC)
