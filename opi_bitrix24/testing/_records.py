"""Generated CRM-like records for the simulated portal: made on demand from their ID.

A :class:`Records` table of a million rows costs no memory until rows are changed: every row is computed
from its ID when it is read (the same values every time), and only rows changed by an update (or added)
are kept. IDs are 1..N.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Union, overload

__all__ = ["Records", "deal", "lead", "task"]

Row = Dict[str, Any]

_MSK = datetime.timezone(datetime.timedelta(hours=3))
_EPOCH = datetime.datetime(2023, 1, 9, 9, 0, 0, tzinfo=_MSK)

STAGES = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE")
SOURCES = ("CALL", "EMAIL", "WEB", "ADVERTISING", "PARTNER", "RECOMMENDATION", "TRADE_SHOW", "WEBFORM")
TYPES = ("SALE", "COMPLEX", "GOODS", "SERVICES", "SERVICE")
CURRENCIES = ("RUB", "RUB", "RUB", "RUB", "USD", "EUR", "KZT")
PRODUCTS = (
    "CRM licence",
    "Annual support",
    "Server rack",
    "Office chairs",
    "Website redesign",
    "1C integration",
    "Cloud storage",
    "Training course",
    "Delivery service",
    "Printer cartridges",
)
COMPANIES = (
    "Vector LLC",
    "Northwind",
    "Polyus Trade",
    "Ural Steel",
    "Baikal Foods",
    "Sever Logistics",
    "Kama Soft",
    "Volga Retail",
    "Altai Agro",
    "Neva Design",
)


def _mix(number: int) -> int:
    """A cheap deterministic scramble of an ID (Knuth's multiplicative hash)."""
    return (number * 2654435761) & 0xFFFFFFFF


def _stamp(moment: datetime.datetime) -> str:
    return moment.isoformat()


def lead(number: int) -> Row:
    """Lead ``number``: ``ID``, ``TITLE``, ``STATUS_ID`` (``NEW`` for even IDs, else ``IN_PROCESS``)."""
    return {"ID": str(number), "TITLE": f"Lead {number}", "STATUS_ID": ("NEW", "IN_PROCESS")[number % 2]}


def task(number: int) -> Row:
    """Task ``number`` as ``tasks.task.list`` gives it: ``id``, ``title``."""
    return {"id": str(number), "title": f"Task {number}"}


def deal(number: int) -> Row:
    """Deal ``number`` with the fields ``crm.deal.list`` answers, as text (the portal sends text)."""
    h = _mix(number)
    stage = STAGES[h % len(STAGES)]
    closed = stage in ("WON", "LOSE")
    created = _EPOCH + datetime.timedelta(seconds=number * 97 + h % 89)
    modified = created + datetime.timedelta(hours=(h >> 8) % 720)
    begin = created.date()
    close = begin + datetime.timedelta(days=7 + (h >> 12) % 60)
    amount = (1 + (h >> 4) % 400) * 250
    company = 1 + (h >> 6) % 500
    product = PRODUCTS[(h >> 10) % len(PRODUCTS)]
    return {
        "ID": str(number),
        "TITLE": f"{product} for {COMPANIES[company % len(COMPANIES)]} #{number}",
        "TYPE_ID": TYPES[(h >> 3) % len(TYPES)],
        "CATEGORY_ID": "0",
        "STAGE_ID": stage,
        "STAGE_SEMANTIC_ID": "S" if stage == "WON" else "F" if stage == "LOSE" else "P",
        "IS_NEW": "Y" if stage == "NEW" else "N",
        "PROBABILITY": None if closed else str((h >> 5) % 10 * 10),
        "CURRENCY_ID": CURRENCIES[(h >> 7) % len(CURRENCIES)],
        "OPPORTUNITY": f"{amount}.00",
        "IS_MANUAL_OPPORTUNITY": "N",
        "TAX_VALUE": f"{amount * 20 // 120}.00",
        "COMPANY_ID": str(company),
        "CONTACT_ID": str(1 + (h >> 9) % 2000),
        "BEGINDATE": f"{begin.isoformat()}T03:00:00+03:00",
        "CLOSEDATE": f"{close.isoformat()}T03:00:00+03:00",
        "OPENED": "Y",
        "CLOSED": "Y" if closed else "N",
        "COMMENTS": "" if h % 3 else f"Call back about the {product}",
        "ASSIGNED_BY_ID": str(1 + (h >> 11) % 25),
        "CREATED_BY_ID": str(1 + (h >> 13) % 25),
        "MODIFY_BY_ID": str(1 + (h >> 14) % 25),
        "DATE_CREATE": _stamp(created),
        "DATE_MODIFY": _stamp(modified),
        "SOURCE_ID": SOURCES[(h >> 2) % len(SOURCES)],
        "SOURCE_DESCRIPTION": None,
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
    }


class Records:
    """A table of rows with IDs ``1..len(table)`` made by ``make(id)``; only changed rows are stored.

    Reading ``table[i]`` (0-based, like a list) or :meth:`row` (by ID) returns a fresh dict. Changes go
    through :meth:`update` / :meth:`add`; ``del table[n:]`` (or ``table[n:] = []``) drops the rows from
    position ``n`` on (a list that shrinks between pages). :attr:`version` grows with every change.
    """

    def __init__(self, count: int, make: Callable[[int], Row], id_field: str = "ID") -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        self._count = count
        self._make = make
        self.id_field = id_field
        self._changed: Dict[int, Row] = {}
        self.version = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and 1 <= number <= self._count

    def row(self, number: int) -> Optional[Row]:
        """The row with ID ``number`` (a copy), or None."""
        if not 1 <= number <= self._count:
            return None
        kept = self._changed.get(number)
        return dict(kept) if kept is not None else self._make(number)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> List[Row]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Row, List[Row]]:
        if isinstance(index, slice):
            return [self._row(i + 1) for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("record index out of range")
        return self._row(index + 1)

    def _row(self, number: int) -> Row:
        kept = self._changed.get(number)
        return dict(kept) if kept is not None else self._make(number)

    def __iter__(self) -> Iterator[Row]:
        for number in range(1, self._count + 1):
            yield self._row(number)

    def __setitem__(self, index: slice, value: Iterable[Row]) -> None:
        if not isinstance(index, slice) or list(value):
            raise TypeError("only truncation is supported: table[n:] = []")
        del self[index]

    def __delitem__(self, index: slice) -> None:
        start, stop, step = index.indices(self._count) if isinstance(index, slice) else (-1, 0, 0)
        if not isinstance(index, slice) or step != 1 or stop != self._count:
            raise TypeError("only truncation is supported: del table[n:]")
        self._count = start
        self._changed = {k: v for k, v in self._changed.items() if k <= start}
        self.version += 1

    def update(self, number: int, fields: Mapping[str, Any]) -> bool:
        """Change fields of row ``number``; False if there is no such row."""
        current = self.row(number)
        if current is None:
            return False
        current.update({str(k): v for k, v in fields.items() if str(k) != self.id_field})
        self._changed[number] = current
        self.version += 1
        return True

    def add(self, fields: Mapping[str, Any]) -> int:
        """Append a row (``fields`` over the generated defaults); returns its ID."""
        self._count += 1
        number = self._count
        row = self._make(number)
        row.update({str(k): v for k, v in fields.items() if str(k) != self.id_field})
        self._changed[number] = row
        self.version += 1
        return number
