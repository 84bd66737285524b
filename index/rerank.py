"""Learned fusion: a linear model over what each retriever says about a candidate clause, instead of hand weights.

Every clause that any retriever (BM25 on words, BM25 on headings, BM25 on readings, e5) puts in its top candidates
gets a feature vector (ranks and normalised scores from each, how much of the query its words and its heading
cover, what kind of clause it is, whether it holds what the question type asks for: an amount for いくら, a date for
いつ); the score is w·x. The weights are fitted by ``python -m eval.train`` (listwise softmax / conditional logit,
L2-regularised, chosen by k-fold cross-validation over our own question set) and shipped as JSON beside this
module; see eval/train.py for the figures.

References: Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach" (ListNet, ICML 2007) for
the top-one softmax objective; McFadden's conditional logit is the same model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED_MODEL = Path(__file__).parent / "data" / "ranker.json"

FEATURES: tuple[str, ...] = (
    "rrf",             # the old hand-weighted fusion, as one signal among others
    "bm25_rel",        # BM25 score / best BM25 score of the query (0 when not retrieved)
    "bm25_rr",         # 1 / BM25 rank
    "heading_rel",     # BM25 on heading/question only, relative to the best
    "heading_rr",
    "reading_rel",     # BM25 on kana-reading bigrams, relative to the best
    "reading_rr",
    "dense_gap",       # cosine - best cosine (≤ 0; the floor of the pool when not retrieved)
    "dense_rr",
    "text_cov",        # IDF-weighted share of the query's words present in the clause's keyword unit
    "heading_cov",     # ... present in its heading/question
    "kind_item",       # Q&A item
    "kind_clause",     # 要綱 clause
    "kind_page",       # slide or notice page
    "kind_law",        # statute article or row
    "is_parent",       # has child clauses (a parent often outranks the child that is really asked for)
    "cue_amount",      # the query asks いくら/金額/補助率 and the clause states an amount or ratio
    "cue_date",        # the query asks いつ/期限 and the clause states a date or period
    "number_match",    # share of the query's numbers (令和8年度, 1000万円, 1/2) found in the clause
    "cue_list",        # the query asks for a list (一覧, どれ, 種類) and the clause is a parent of items
    "law_named",       # the clause is in a statute the query names (母子保健法, 難病法 …)
    "law_cue",         # the query speaks of statutes (法律, 第N条, 規定, 政令) and the clause is in one
    "cue_actor",       # the query asks who or where (誰, どこ, 市町村？県？) and the clause names an authority
    "lead_cov",        # IDF-weighted share of the query's words in the clause's lead sentence (its main rule)
    "cue_where",       # the query asks where to apply or submit (どこに申請, 申請先) and the clause names an authority
                       # as the place a procedure goes to (都道府県に申請, 市町村に提出)
    "predicate_match", # the query's predicate (申請する？) is the main predicate of the clause's lead sentence
    "adapted_gap",     # cosine of the adapted query vector (index/adapter.py) - the best candidate's (≤ 0)
    "adapted_rr",      # 1 / rank of that cosine among the candidates
)

_ASK_AMOUNT = re.compile(r"いくら|幾ら|金額|額は|額を|補助率|割合|何割|上限|何円|何分の|単価|費用は")
_ASK_DATE = re.compile(r"いつ|何時|期限|締切|締め切り|までに|スケジュール|日程|時期|何月|何日")
_ASK_LIST = re.compile(r"一覧|リスト|どれ|どんな|種類|全部|すべて|全て|何があ|何が対象|範囲")
_ASK_LAW = re.compile(r"法律|法令|条文|第\s*\d+\s*条|\d+\s*条|規定|政令|省令|法では|法で|法の|法に")
_ASK_ACTOR = re.compile(r"どこ|誰|だれ|どちら|どっち|窓口|申請先|提出先|実施主体|[県市町村]？|[県市町村]\?|[県市町村]だっけ")
_HAS_ACTOR = re.compile(r"都道府県|市町村|市区町村|知事|市長|区長|保健所|実施主体|厚生労働大臣|国は|国が")
_ASK_WHERE = re.compile(r"(?:どこ|どちら|どっち)(?:に|へ|で|の窓口)?.{0,12}(?:申請|提出|出す|出せ|届け|届出|申し込|申込|手続|しんせい|ていしゅつ|だす)"
                        r"|申請先|提出先|届出先|申請窓口|[県市町村]に(?:申請|出す|提出)")
# an authority followed by the procedure addressed to it: 「居住地の都道府県に申請」「市町村長に対し、…の申請」
_HAS_WHERE = re.compile(r"(?:都道府県|市町村|市区町村|知事|市長|区長|町村長|保健所|厚生労働大臣|地方厚生局|国民健康保険団体連合会)"
                        r"(?:知事|長)?(?:に|へ)(?:対し、?)?[^。]{0,30}?(?:申請|提出|届け出|届出|申し出)")
_HAS_AMOUNT = re.compile(r"\d[\d,.]*\s*(?:万|億|千)?円|\d+\s*/\s*\d+|\d+分の\d+|[0-9０-９]+割|補助率|基準額|上限")
_HAS_DATE = re.compile(r"(?:令和|平成)\s*\d+\s*年|\d+\s*月\s*\d*\s*日?|年度中|期限|まで")
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")


def query_cues(query: str) -> tuple[bool, bool, list[str]]:
    """(asks for an amount, asks for a date, the numbers it names)."""
    return bool(_ASK_AMOUNT.search(query)), bool(_ASK_DATE.search(query)), _NUMBERS.findall(query)


def asks_actor(query: str) -> bool:
    return bool(_ASK_ACTOR.search(query))


def asks_where(query: str) -> bool:
    return bool(_ASK_WHERE.search(query))


def names_destination(text: str) -> bool:
    return bool(_HAS_WHERE.search(text))


def names_actor(text: str) -> bool:
    return bool(_HAS_ACTOR.search(text))


def asks_law(query: str) -> bool:
    return bool(_ASK_LAW.search(query))


def asks_list(query: str) -> bool:
    return bool(_ASK_LIST.search(query))


def clause_cues(text: str) -> tuple[bool, bool]:
    return bool(_HAS_AMOUNT.search(text)), bool(_HAS_DATE.search(text))


@dataclass(frozen=True, slots=True)
class RankerModel:
    """w·((x - mean) / scale) + b over ``features``; the JSON file also carries how it was trained and scored."""

    features: tuple[str, ...]
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    info: dict[str, object]

    def score(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights

    def to_json(self) -> dict[str, object]:
        return {"features": list(self.features), "weights": [round(float(v), 6) for v in self.weights],
                "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
                "info": self.info}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> RankerModel:
        names = tuple(d["features"])  # type: ignore[arg-type]
        return cls(names, np.asarray(d["weights"], float), np.asarray(d["mean"], float),
                   np.asarray(d["scale"], float), dict(d.get("info") or {}))  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path = BUNDLED_MODEL) -> RankerModel:
        return cls.from_json(json.loads(Path(path).read_text("utf-8")))

    def columns(self) -> list[int]:
        """Where each of the model's features sits in FEATURES (a model may use a subset)."""
        return [FEATURES.index(f) for f in self.features]


def softmax(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores
    e = np.exp(scores - scores.max())
    return e / e.sum()


def rr(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / rank


def safe_rel(score: float | None, top: float) -> float:
    return 0.0 if score is None or top <= 0 or math.isnan(score) else float(score) / top
