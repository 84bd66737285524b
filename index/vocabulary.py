"""The domain vocabulary: the words staff type (オン資, マイナ保険証, システム代, 前払い) mapped to the words the documents use
(オンライン資格確認, マイナンバーカード, システム改修, 概算払), read from a TSV file that users extend.

Applied to the query: a variant found in it adds its official term, so BM25 can match the documents' wording and
the embedding sees both. Matches are taken longest first and never overlap, so 「補助率」 adds nothing for the shorter
variant 「補助」 inside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import VocabularyFileError
from corpus.textnorm import fold

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).parent / "data" / "vocabulary.tsv"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    # folded surface -> official term; an official term maps to itself (so it blocks its own variants)
    terms: dict[str, str]
    # computed once (here, not on every query): the surfaces longest first, and for each first character the
    # surfaces that start with it, as (place in that order, surface); "" under the empty surface, if any
    _by_first: dict[str, list[tuple[int, str]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_first: dict[str, list[tuple[int, str]]] = {}
        for i, surface in enumerate(sorted(self.terms, key=len, reverse=True)):
            by_first.setdefault(surface[:1], []).append((i, surface))
        object.__setattr__(self, "_by_first", by_first)

    @classmethod
    def load(cls, *paths: Path) -> Vocabulary:
        terms: dict[str, str] = {}
        for path in paths:
            try:
                text = Path(path).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise VocabularyFileError(f"the vocabulary file {path} cannot be read ({type(e).__name__})",
                                          "point REGKB_VOCABULARY_FILE at a UTF-8 TSV file (official<TAB>variant…), "
                                          "or unset it") from None
            for n, line in enumerate(text.splitlines(), start=1):
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
        # only the surfaces that start with a character of the query can occur in it; taken in the longest-first order
        candidates = [hit for ch in {*q, ""} for hit in self._by_first.get(ch, ())]
        candidates.sort()
        for _, surface in candidates:
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
    """The bundled vocabulary, and ``extra`` (the settings' REGKB_VOCABULARY_FILE, same format) read after it: a
    variant the bundled file already maps keeps that mapping (with a warning)."""
    return Vocabulary.load(BUNDLED, *([extra] if extra else []))
