"""Timekeeping (УчетРабочегоВремени): time tracking and the work day."""

from __future__ import annotations

from .._table import section

endpoint = section("Timekeeping", "УчетРабочегоВремени")
