"""Japanese tokenisation for BM25: fugashi (MeCab) with unidic-lite, lemmas, width/case folding, number phrases.

Decisions measured on the dev questions (see README, "Search quality"): lemmas rather than surface forms (基づく /
基づき match), particles, auxiliaries and symbols dropped, light verbs (する, なる, ある …) dropped, and number
phrases kept whole as extra tokens besides their parts (令和8年度, 500万円, 1/2), so a question about 1/2 finds 1/2.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib.metadata import version

from corpus.textnorm import fold

KEEP_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "接尾辞", "接頭辞"})
# Lemmas so common in any regulation text that they only add noise.
STOP_LEMMAS = frozenset({
    "為る", "する", "成る", "なる", "有る", "ある", "居る", "いる", "出来る", "できる", "為れる", "れる", "られる",
    "事", "こと", "物", "もの", "様", "よう", "為", "ため", "其の", "此の", "の", "等", "頂く", "いただく",
    "下さる", "くださる", "致す", "いたす", "御", "ご", "お", "良い", "よい", "行う", "おる", "思う",
    # How questions are asked, not what they are about: answers never contain these.
    "教える", "何時", "いつ", "幾ら", "いくら", "如何", "どう", "どの", "何", "なに", "どれ", "どんな", "どこ", "誰",
    "知る", "分かる", "わかる", "願う",
})
_NUMBER_PHRASES = re.compile(
    r"(?:令和|平成|昭和)\d{1,2}年度?|\d+(?:\.\d+)?(?:万|億|千)?円|\d+/\d+|\d+(?:か|ヶ|カ|ケ)?月|\d+-\d+"
)


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    lemmas: bool = True
    drop_stop: bool = True
    number_phrases: bool = True
    bigrams: bool = False  # adjacent content-word pairs as extra tokens

    def describe(self) -> dict[str, object]:
        return {"lemmas": self.lemmas, "drop_stop": self.drop_stop, "number_phrases": self.number_phrases,
                "bigrams": self.bigrams}


# One word as MeCab tags it: (surface, pos1, pos2, lemma); the lemma is None where unidic has none.
Morpheme = tuple[str, str, str, str | None]


@dataclass(frozen=True, slots=True)
class Analysis:
    """One MeCab pass over a folded text: its BM25 tokens, its highlight terms and its words."""

    tokens: list[str]
    terms: list[str]
    words: list[Morpheme]


# One MeCab tagger per thread for the whole process, shared by every Tokenizer: a tagger holds the unidic
# dictionary, and one per Tokenizer instance grew a process that builds repeatedly (tests, the server's rebuilds)
# by hundreds of MB a build.
_TAGGERS = threading.local()


class Tokenizer:
    """Thread-safe: MeCab taggers are not, so each thread gets its own."""

    def __init__(self, config: TokenizerConfig = TokenizerConfig()) -> None:
        self.config = config

    @property
    def tagger(self):  # type: ignore[no-untyped-def]
        """This thread's MeCab tagger (unidic-lite), created on first use."""
        tagger = getattr(_TAGGERS, "tagger", None)
        if tagger is None:
            import fugashi

            tagger = _TAGGERS.tagger = fugashi.Tagger()
        return tagger

    @staticmethod
    def versions() -> dict[str, str]:
        return {"fugashi": version("fugashi"), "unidic-lite": version("unidic-lite")}

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def morphemes(self, text: str) -> list[Morpheme]:
        """MeCab's words of ``text`` as it is (not folded), each (surface, pos1, pos2, lemma): plain values, copied out
        of the tagger's nodes, so they stay valid after the thread's tagger parses again."""
        out = []
        for word in self.tagger(text):
            feat = word.feature
            out.append((word.surface, feat.pos1, feat.pos2, feat.lemma))
        return out

    def analyse(self, text: str) -> Analysis:
        """``tokenize``, ``terms_for_highlight`` and the words they came from, from one MeCab pass over fold(text)
        (the query's predicate feature is derived from the same words: index.predicate.predicate_of)."""
        t = fold(text)
        words = self.morphemes(t)
        return Analysis(self._tokens(t, words), self._terms(words), words)

    def tokenize(self, text: str) -> list[str]:
        t = fold(text)
        return self._tokens(t, self.morphemes(t))

    def terms_for_highlight(self, text: str) -> list[str]:
        """Surface forms of the content words of ``text`` (for marking matches in snippets)."""
        return self._terms(self.morphemes(fold(text)))

    def _tokens(self, t: str, words: list[Morpheme]) -> list[str]:
        """BM25 tokens of the folded text ``t`` whose words are ``words``."""
        tokens: list[str] = []
        prev: str | None = None
        lemmas, drop_stop, bigrams = self.config.lemmas, self.config.drop_stop, self.config.bigrams
        for surface, pos, pos2, lemma in words:
            if pos not in KEEP_POS or pos2 == "非自立可能":
                prev = None
                continue
            token = surface
            if lemmas and lemma:
                # unidic lemmas carry a reading or origin suffix: "円-助数詞", "システム-system".
                token = lemma.split("-")[0] or surface
                token = fold(token)
            if drop_stop and (token in STOP_LEMMAS or surface in STOP_LEMMAS):
                prev = None
                continue
            tokens.append(token)
            if bigrams and prev is not None:
                tokens.append(f"{prev}_{token}")
            prev = token
        if self.config.number_phrases:
            tokens.extend(m.group() for m in _NUMBER_PHRASES.finditer(t))
        return tokens

    def _terms(self, words: list[Morpheme]) -> list[str]:
        out = []
        for surface, pos, pos2, _ in words:
            if pos in KEEP_POS and pos2 != "非自立可能" and len(surface) >= 1:
                if not (self.config.drop_stop and surface in STOP_LEMMAS):
                    out.append(surface)
        return out
