"""The domain vocabulary: the words staff type (オン資, マイナ保険証, システム代, 前払い) mapped to the words the documents use
(オンライン資格確認, マイナンバーカード, システム改修, 概算払), read from a TSV file that users extend.

Applied to the query: a variant found in it adds its official term, so BM25 can match the documents' wording and
the embedding sees both. Matches are taken longest first and never overlap, so 「補助率」 adds nothing for the shorter
variant 「補助」 inside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from corpus.textnorm import fold

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).parent / "data" / "vocabulary.tsv"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    # folded surface -> official term; an official term maps to itself (so it blocks its own variants)
    terms: dict[str, str]

    @classmethod
    def load(cls, *paths: Path) -> Vocabulary:
        terms: dict[str, str] = {}
        for path in paths:
            for n, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                cells = [c.strip() for c in line.split("\t") if c.strip()]
                official = cells[0]
                for surface in cells:
                    key = fold(surface)
                    if key in terms and terms[key] != official and surface != official:
                        log.warning("%s:%d: %r already maps to %r", path, n, surface, terms[key])
                        continue
                    terms.setdefault(key, official)
        return cls(terms)

    def expansions(self, query: str) -> list[str]:
        """Official terms for the variants in ``query`` that the query does not already use, in query order."""
        q = fold(query)
        taken = [False] * len(q)
        found: list[tuple[int, str]] = []
        for surface in sorted(self.terms, key=len, reverse=True):
            start = q.find(surface)
            while start >= 0:
                end = start + len(surface)
                if not any(taken[start:end]):
                    for i in range(start, end):
                        taken[i] = True
                    found.append((start, surface))
                start = q.find(surface, end)
        used_official = {self.terms[s] for _, s in found if self.terms[s] == s or fold(self.terms[s]) == s}
        out: list[str] = []
        for _, surface in sorted(found):
            official = self.terms[surface]
            if fold(official) != surface and official not in used_official and official not in out:
                out.append(official)
        return out


def default_vocabulary(extra: Path | None = None) -> Vocabulary:
    return Vocabulary.load(BUNDLED, *([extra] if extra else []))
