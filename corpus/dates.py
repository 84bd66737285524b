"""Japanese dates: 令和8年3月9日 -> 2026-03-09 (令和/平成/昭和, full- or half-width digits, 元年)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from corpus.errors import BadQuery

ERAS: dict[str, int] = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988, "S": 1925}

_ERA_DATE = re.compile(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_WESTERN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def era_year(era: str, year: str | int) -> int:
    """Western year of an era year: ("令和", 8) -> 2026, ("平成", "元") -> 1989."""
    n = 1 if year == "元" else int(year)
    return ERAS[era] + n


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def find_dates(text: str) -> list[tuple[int, dt.date]]:
    """Every valid date in ``text`` with its offset, in order. Impossible dates (2月30日) are skipped."""
    t = unicodedata.normalize("NFKC", text)  # NFKC keeps length for digits, so offsets stay usable
    found: list[tuple[int, dt.date]] = []
    for m in _ERA_DATE.finditer(t):
        d = _make(era_year(m.group(1), m.group(2)), int(m.group(3)), int(m.group(4)))
        if d:
            found.append((m.start(), d))
    for m in _WESTERN_DATE.finditer(t):
        d = _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d:
            found.append((m.start(), d))
    return sorted(found, key=lambda x: x[0])


def parse_date(value: str) -> dt.date:
    """A date from the CLI or API: ISO (2026-03-09) or Japanese (令和8年3月9日). Raises ValueError."""
    value = value.strip()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    found = find_dates(value)
    if found:
        return found[0][1]
    raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD or 令和8年3月9日)")


def parse_date_param(value: str | None, name: str) -> dt.date | None:
    """A date a user typed into a CLI option, an API parameter or a form field named ``name``: None when absent or
    blank; a bad one raises BadQuery whose message starts with ``name`` (the CLI prints it, the API answers 422)."""
    if value is None or not value.strip():
        return None
    try:
        return parse_date(value)
    except ValueError as e:
        raise BadQuery(f"{name}: {e}", "use YYYY-MM-DD or 令和8年3月9日") from None


# Era starts, newest first: a date is written in the era it falls in (令和 from 2019-05-01).
_ERA_STARTS: tuple[tuple[str, dt.date], ...] = (
    ("令和", dt.date(2019, 5, 1)), ("平成", dt.date(1989, 1, 8)), ("昭和", dt.date(1926, 12, 25)),
)


def wareki(d: dt.date) -> str:
    """令和8年3月9日 for 2026-03-09 (元年 for the first year); dates before 昭和 stay Western (1900年1月1日)."""
    for era, start in _ERA_STARTS:
        if d >= start:
            year = d.year - ERAS[era]
            return f"{era}{'元' if year == 1 else year}年{d.month}月{d.day}日"
    return f"{d.year}年{d.month}月{d.day}日"


def wareki_iso(d: dt.date) -> str:
    """令和8年3月9日（2026-03-09）: how the pages show a date, readable as 和暦 and unambiguous as ISO."""
    return f"{wareki(d)}（{d.isoformat()}）"
