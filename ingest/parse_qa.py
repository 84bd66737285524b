"""Q&A structure: a title block, groups ("1. スケジュール") and items ("1-4 question … → answer").

Item numbers are recognised only in sequence (a group's items count up), which is what keeps "3-1によって…" in
an answer, or "2-1 1" (2-11 split by extraction), from being misread.
"""

from __future__ import annotations

import logging
import re

from corpus.errors import UnrecognisedStructure
from ingest.clean import nfkc, unwrap
from ingest.structure import Line, RawClause, drop_prefix, plain

log = logging.getLogger(__name__)

_GROUP = re.compile(r"^(\d{1,2})\s*[.．]\s*(\S.{0,40})$")
_ITEM = re.compile(r"^(\d{1,2})\s*[-‐−－]\s*(\d)(\s?\d)?(?=[\s\u3000]|$)[\s\u3000]*")
_ANSWER_START = re.compile(r"^(?:→|⇒|➡|[-‐−－•・●○](?:[\s\u3000]|$)|[A-ZＡ-Ｚ][.．:：])")


def _item_number(line: str, group: int | None, last_minor: int) -> tuple[int, int, int] | None:
    """(major, minor, length of the number prefix) when ``line`` starts the next item, else None."""
    m = _ITEM.match(nfkc(plain(line)))
    if not m:
        return None
    major = int(m.group(1))
    if group is not None and major != group:
        return None
    single = (int(m.group(2)), m.start(2) + 1)
    if not m.group(3):
        return (major, single[0], m.end()) if single[0] > last_minor else None
    # "2-1 1": 2-11 when 2-11 comes next, else 2-1 whose text starts with "1".
    joined = (int(m.group(2) + m.group(3).strip()), m.end())
    for minor, cut in (joined, single):
        if minor == last_minor + 1:
            return major, minor, cut
    for minor, cut in (joined, single):
        if minor > last_minor:
            return major, minor, cut
    return None


def parse_qa(lines: list[Line], name: str) -> list[RawClause]:
    raws: list[RawClause] = []
    title: list[Line] = []
    group: int | None = None
    last_group = 0
    last_minor = 0
    current: RawClause | None = None
    for ln in lines:
        text = nfkc(plain(ln.text))
        g = _GROUP.match(text)
        if g and int(g.group(1)) == last_group + 1 and len(text) <= 40:
            group = last_group = int(g.group(1))
            last_minor = 0
            current = None
            raws.append(RawClause(str(group), "group", None, g.group(2).strip(), [], head=ln.text))
            continue
        item = _item_number(ln.text, group, last_minor) if text else None
        if item:
            major, minor, cut = item
            if group is None:  # Q&A without group headings
                last_group = major
            last_minor = minor
            rest = drop_prefix(ln.text, cut).lstrip(" \u3000")
            current = RawClause(f"{major}-{minor}", "item", str(group) if group is not None else None, "",
                                [Line(rest, ln.page)])
            raws.append(current)
            continue
        if current is not None:
            current.lines.append(ln)
        elif not raws:
            title.append(ln)
        else:
            raws[-1].lines.append(ln)
    items = [r for r in raws if r.kind == "item"]
    if not items:
        raise UnrecognisedStructure(name, "no Q&A items (1-1, 1-2 …) found",
                                    "check the file is a Q&A, or ingest it with --kind slides")
    for r in items:
        _split_question(r)
    if any(ln.text for ln in title):
        heading = next(plain(ln.text) for ln in title if ln.text)
        raws.insert(0, RawClause("前文", "preamble", None, heading, title))
    return raws


def _split_question(raw: RawClause) -> None:
    """Question = lines up to the first answer marker (→, -, ・ …), or up to the first blank line."""
    lines = raw.lines
    cut = None
    for i, ln in enumerate(lines[1:], start=1):
        if _ANSWER_START.match(plain(ln.text)):
            cut = i
            break
    if cut is None:
        cut = next((i for i, ln in enumerate(lines) if i > 0 and not ln.text), len(lines))
    question, answer = lines[:cut], lines[cut:]
    raw.lines, raw.answer_lines = question, answer
    raw.heading = unwrap(plain(ln.text) for ln in question)
