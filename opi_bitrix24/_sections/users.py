"""UsersManagement (УправлениеПользователями): users."""

from __future__ import annotations

from .._table import section

endpoint = section("UsersManagement", "УправлениеПользователями")
