"""Argument dates with a zone are converted to the machine's local time, as OPI's XMLValue does (issue 17, A4).

Measured on oint under UTC (conformance/reference-runs/oint-a52335e): ``2025-12-10T19:56:25-05:00``
was sent as ``2025-12-11T00:56:25Z``. Machine-dependent, as in OPI; the conformance cases pin it in the portal's zone.
"""

from __future__ import annotations

import datetime
import time
from typing import Iterator

import pytest

from opi_bitrix24 import _convert as cv


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("tz", "text", "iso", "isoz", "day"),
    [
        ("UTC", "2025-12-10T19:56:25-05:00", "2025-12-11T00:56:25", "2025-12-11T00:56:25Z", "2025-12-11"),
        ("Europe/Moscow", "2025-12-10T19:56:25-05:00", "2025-12-11T03:56:25", "2025-12-11T03:56:25Z", "2025-12-11"),
        (
            "Europe/Moscow",
            " 2025-11-10 19:55:49.12+03:00 ",
            "2025-11-10T19:55:49",
            "2025-11-10T19:55:49Z",
            "2025-11-10",
        ),
        ("America/New_York", "2026-01-06T09:04:38Z", "2026-01-06T04:04:38", "2026-01-06T04:04:38Z", "2026-01-06"),
        ("America/New_York", "2026-01-06T09:04:38", "2026-01-06T09:04:38", "2026-01-06T09:04:38Z", "2026-01-06"),
    ],
)
def test_a_date_with_a_zone_becomes_local_time(
    zone: None, monkeypatch: pytest.MonkeyPatch, tz: str, text: str, iso: str, isoz: str, day: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    assert (cv.date_iso(text, "d"), cv.date_isoz(text, "d"), cv.date_only(text, "d")) == (iso, isoz, day)


def test_a_python_datetime_is_sent_as_given(zone: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Moscow")
    time.tzset()
    moment = datetime.datetime(2025, 12, 10, 19, 56, 25)
    assert cv.date_isoz(moment, "d") == "2025-12-10T19:56:25Z"
