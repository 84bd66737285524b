"""The answer line: one self-contained sentence that leads a result, never a bare 「可能です。」.

Staff read it aloud or paste it. A Q&A answer often starts with a sentence whose subject is the question
(「可能です。」「本補助金によるシステム改修等の対象にすることができます。」); such a sentence gets its subject back
from the item's question (「都道府県が補助を行うことは、可能です。」). A 要綱 sub-item is a list entry (「…の規定による
更生医療に係る自立支援医療費」) that only means something under its parent's heading, so the heading leads it; a slide
or notice page leads with its heading and its first sentence of content.
"""

from __future__ import annotations

import re

from corpus.lawcite import KANJI_NUM
from corpus.model import Clause

MAX_CHARS = 240
# A sentence that names its own subject: a topic or subject particle after some content, or 「…について」.
_HAS_SUBJECT = re.compile(r"\S{2,}(?:は|が|では|には|については|について)[、\s]?\S")
_QUESTION_END = re.compile(r"(?:は|が|も)?(?:可能|できる|必要|良い|よい|いい|対象|含まれる|なる|ある)?(?:の|ん)?"
                           r"(?:でしょう|です)?か[。？?]?$")


_OPEN, _CLOSE, _ENDS = frozenset("（(「『【"), frozenset("）)」』】"), frozenset("。！？?")
_MARKS = re.compile(r"[（(「『【）)」』】。！？?\n]")


def sentences(text: str) -> list[str]:
    """Sentences, split at 。！？ outside brackets (「（平成17年法律第123号。以下…）」 is not a sentence end).

    Only the brackets, sentence ends and line breaks are visited (a regular expression finds them), not every
    character: this runs for every candidate's lead sentence and every hit's answer line."""
    out, depth, start = [], 0, 0
    for m in _MARKS.finditer(text):
        ch, i = m.group(), m.start()
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif ch in _ENDS:
            out.append(text[start:i + 1].strip())
            start = i + 1
        elif text[start:i].strip():  # a line break ends a sentence that has text
            out.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return [s for s in out if s]


def _first(text: str) -> str:
    found = sentences(text.lstrip("-・→ \n"))
    return found[0].lstrip("-・→ ") if found else ""


def _asking(question: str) -> str:
    """The interrogative sentence of a Q&A question (the last one ending in か)."""
    found = sentences(question)
    return next((s for s in reversed(found) if re.search(r"か[。？?]?$", s)), found[-1] if found else "")


LAW_KINDS = frozenset({"article", "paragraph", "law_item", "table_row"})
_LAW_MARKER = re.compile(rf"^\s*(?:第[{KANJI_NUM}]+条(?:の[{KANJI_NUM}]+)*|[0-9０-９]+|[{KANJI_NUM}]+)[\s　]*")


def _without_law_number(c: Clause, text: str) -> str:
    """A statute's article, paragraph or item starts with its own number (「第六条　」「２　」「一　」)."""
    return _LAW_MARKER.sub("", text, count=1) if c.kind in LAW_KINDS else text


def _tail(question: str, keep: int = 80) -> str:
    """The end of a long question, where its subject and predicate are: the answer must stay whole."""
    return question if len(question) <= keep else "…" + question[-(keep - 1):]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def self_contained(sentence: str) -> bool:
    s = re.sub(r"ことが(でき|可能)", "", sentence.strip())  # 「…ことができます」 has no subject of its own
    return len(s) >= 16 and bool(_HAS_SUBJECT.search(s))


def answer_line(c: Clause, query: str = "", parent: Clause | None = None) -> str | None:
    """The line a result leads with, or None when the clause has no text to lead with. It depends on the clause and
    its parent only (``query`` is accepted for callers that have one), so a search may keep it per clause:
    ``clause_answer_line``."""
    return clause_answer_line(c, parent)


def clause_answer_line(c: Clause, parent: Clause | None = None) -> str | None:
    """answer_line of a clause under ``parent``."""
    if c.answer:
        first = _first(c.answer)
        if self_contained(first):
            return _clip(first)
        asking = _tail(_asking(c.heading or ""))
        core = _QUESTION_END.sub("", asking).rstrip("、。 ")
        if core.endswith("こと") and len(first) <= 12:
            return _clip(f"{core}は、{first}")  # 「都道府県が補助を行うことは、可能です。」
        return _clip(f"{asking}→ {first}" if asking else first)
    body = c.text
    if c.heading and body.startswith(c.heading) and c.kind == "page":
        body = body[len(c.heading):]
    body = _without_law_number(c, body)
    # 「３ 事業内容」: a numbered clause repeats its number and heading as the first line.
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if lines and c.heading and lines[0].strip().endswith(c.heading.strip()) and len(lines) > 1:
        lines = lines[1:]
    first = _first("\n".join(lines)) if lines else ""
    if not first:
        return None
    lead = (c.heading or "").strip()
    if c.kind == "page":
        # a page's heading is its first line: a title when short, else the start of its first sentence
        if len(lead) > 30 or not lead or lead in first:
            return _clip(_first(c.text))
        return _clip(f"{lead}：{first}")
    if lead and not first.startswith(lead[:10]) and lead not in first:
        return _clip(f"{lead}：{first}")
    if parent is not None and not self_contained(first):
        head = _first(re.sub(r"^\s*[(（]?[0-9０-９]+[)）]?\s*", "", parent.text)) or parent.heading
        return _clip(f"{head.rstrip('。')}：{first}")
    return _clip(first)


def lead_sentence(c: Clause) -> str:
    """The sentence a clause leads with — an answer's first sentence, a statute's first sentence without its number,
    otherwise the clause's own first sentence: where its subject and predicate are (indexed as its own field)."""
    if c.answer:
        return _first(c.answer)
    return _first(_without_law_number(c, c.text))
