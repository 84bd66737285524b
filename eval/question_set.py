"""Question sets in the format of dev.jsonl: {"id", "question", "expected": [{"doc", "section"?}, …]}.

A question with no expected entries (``"expected": []``) is out of corpus: nothing should be called confident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import RegkbError
from corpus.sections import normalize_section


@dataclass(frozen=True, slots=True)
class Expected:
    doc: str
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    expected: tuple[Expected, ...]
    persona: str | None = None
    style: str | None = None  # colloquial, keyword, scenario, lay, abbreviation, hiragana, typo, citation, near-miss…

    @property
    def out_of_corpus(self) -> bool:
        return not self.expected


def same_section(a: str, b: str) -> bool:
    """Sections are equal in their canonical spelling (corpus.sections: NFKC, dashes folded, no spaces)."""
    return normalize_section(a) == normalize_section(b)


def matches(expected: Expected, doc: str, section: str) -> bool:
    return expected.doc == doc and (expected.section is None or same_section(expected.section, section))


def load_questions(path: Path) -> list[Question]:
    out = []
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as e:
        raise RegkbError(f"cannot read questions file {path}: {e.strerror}") from e
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Question(
                id=str(d["id"]), question=d["question"], persona=d.get("persona"), style=d.get("style"),
                expected=tuple(Expected(e["doc"], e.get("section")) for e in d.get("expected", [])),
            ))
        except (ValueError, KeyError, TypeError) as e:
            raise RegkbError(f"{path}:{n}: not a question line ({e})",
                             'each line is {"id": …, "question": …, "expected": [{"doc": …, "section": …}]}') from e
    return out
