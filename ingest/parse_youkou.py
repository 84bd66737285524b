"""実施要綱 structure: the covering 通知 (section 前文), clauses 1-9, sub-items (1)(2) and ア イ ウ … at any level.

Numbers are accepted only in sequence within their parent (after ４ comes ５, after ア comes イ), which is what
tells "１ 目的" from a wrapped line starting "123 号。" and "イ 障害者…" from "イン資格確認".
"""

from __future__ import annotations

import re

from corpus.errors import UnrecognisedStructure
from ingest.clean import nfkc
from ingest.structure import Line, RawClause, drop_prefix, plain

KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"

_TOP = re.compile(r"^(\d{1,2})[\s\u3000]+(\S.*)$")
_PAREN = re.compile(r"^[(（](\d{1,2})[)）][\s\u3000]*(.*)$")
_KANA = re.compile(f"^([{KANA}])[\\s\\u3000]+(\\S.*)$")
_MAX_HEADING = 30


def parse_youkou(lines: list[Line], name: str) -> list[RawClause]:
    raws: list[RawClause] = [RawClause("前文", "preamble", None, "", [])]
    top = 0
    paren = 0
    kana = -1
    top_id = paren_id = ""
    current = raws[0]
    for ln in lines:
        text = nfkc(plain(ln.text))
        m = _TOP.match(text)
        if m and int(m.group(1)) == top + 1 and _is_heading(m.group(2)):
            top, paren, kana = top + 1, 0, -1
            top_id = str(top)
            # The heading stands alone on its line; the body starts on the next one.
            heading = drop_prefix(ln.text, len(text) - len(m.group(2))).strip()
            current = RawClause(top_id, "clause", None, plain(heading), [], head=ln.text.strip())
            raws.append(current)
            continue
        m = _PAREN.match(text)
        if top and m and int(m.group(1)) == paren + 1:
            paren, kana = paren + 1, -1
            paren_id = f"{top_id}({paren})"
            rest = drop_prefix(ln.text, len(text) - len(m.group(2)))
            current = RawClause(paren_id, "clause", top_id, plain(rest).strip(), [Line(rest, ln.page)])
            raws.append(current)
            continue
        m = _KANA.match(text)
        if top and m and KANA.index(m.group(1)) == kana + 1:
            kana += 1
            parent = paren_id if paren else top_id
            rest = drop_prefix(ln.text, len(text) - len(m.group(2)))
            current = RawClause(f"{parent}{m.group(1)}", "clause", parent, plain(rest).strip(), [Line(rest, ln.page)])
            raws.append(current)
            continue
        current.lines.append(ln)
    if top == 0:
        raise UnrecognisedStructure(name, "no numbered clauses (１ 目的, ２ …) found",
                                    "check the file is a 実施要綱, or ingest it with --kind slides")
    preamble = raws[0]
    if not any(ln.text for ln in preamble.lines):
        raws.pop(0)
    else:
        preamble.heading = "通知"
    return raws


def _is_heading(rest: str) -> bool:
    return len(rest) <= _MAX_HEADING and "。" not in rest and "、" not in rest
