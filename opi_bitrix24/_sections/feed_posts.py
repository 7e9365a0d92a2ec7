"""FeedPostsManagement (РаботаСЖивойЛентой): feed posts."""

from __future__ import annotations

from .._table import section

endpoint = section("FeedPostsManagement", "РаботаСЖивойЛентой")
