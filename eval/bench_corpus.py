"""Benchmark corpora: the real (bundled) corpus, timed as it is ingested, and synthetic corpora grown from it.

The synthetic corpora are SYNTHETIC: every clause is a real clause recombined and perturbed — sentences spliced in
from other clauses of the same kind, numbers, years, prefectures and municipality names swapped — under new document
ids, titles and editions. They keep the real structure (sections, parents, headings, lengths, vocabulary), so the
keyword index sees realistic text; nothing about their answers is meaningful, so they are for speed only.

Their vectors are made in eval/bench_vectors.py, their indexes built in eval/bench_build.py.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from corpus.collection import Corpus
from corpus.model import Document, ParsedDocument
from corpus.store import Store
from index.build import BuildConfig
from index.units import clause_texts

REPO = Path(__file__).resolve().parent.parent
EDITION1_FIXTURE = REPO / "tests" / "data" / "hojokin-qa-edition1.txt"

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県",
    "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
MUNICIPALITIES = (
    "札幌市", "函館市", "帯広市", "旭川市", "青森市", "三沢市", "盛岡市", "一関市", "仙台市", "大崎市", "秋田市", "湯沢市",
    "由利本荘市", "山形市", "米沢市", "酒田市", "福島市", "郡山市", "水戸市", "笠間市", "鹿嶋市", "宇都宮市", "栃木市",
    "那須塩原市", "前橋市", "高崎市", "さいたま市", "川口市", "戸田市", "新座市", "入間市", "千葉市", "松戸市", "銚子市",
    "木更津市", "我孫子市", "八王子市", "町田市", "調布市", "東村山市", "横浜市", "川崎市", "平塚市", "藤沢市", "新潟市",
    "加茂市", "南魚沼市", "小千谷市", "富山市", "金沢市", "加賀市", "福井市", "甲府市", "都留市", "韮崎市", "笛吹市",
    "長野市", "松本市", "岐阜市", "静岡市", "浜松市", "名古屋市", "一宮市", "豊田市", "津市", "大津市", "京都市", "大阪市",
    "堺市", "河内長野市", "神戸市", "姫路市", "奈良市", "和歌山市", "鳥取市", "松江市", "岡山市", "広島市", "三原市",
    "下関市", "徳島市", "高松市", "松山市", "西条市", "高知市", "福岡市", "北九州市", "佐賀市", "長崎市", "諫早市",
    "大村市", "熊本市", "上天草市", "大分市", "宮崎市", "都城市", "鹿児島市", "那覇市", "池田町", "上士幌町", "芽室町",
    "幕別町", "浦幌町", "深浦町", "下仁田町", "甘楽町", "松伏町", "芝山町", "瑞穂町", "奥多摩町", "波佐見町", "九戸村",
    "忍野村",
)
_PLACE = re.compile("|".join(sorted(map(re.escape, PREFECTURES + MUNICIPALITIES), key=len, reverse=True)))
_NUMBER = re.compile(r"[0-9]+|[０-９]+")
_SENTENCE = re.compile(r"[^。\n]+[。]?")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# -- the real corpus ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RealCorpus:
    corpus: Corpus
    stats: dict[str, Any]


def load_real_corpus(work: Path) -> RealCorpus:
    """Ingest the bundled documents (and the synthetic 第1版 test fixture of the Q&A, as the tests do) into a fresh
    store, timing the text ingest: clauses parsed and stored per second."""
    from ingest.pipeline import ingest_bundled, ingest_paths

    store_dir = work / "real-store"
    if store_dir.exists():
        import shutil

        shutil.rmtree(store_dir)
    store = Store(store_dir)
    t0 = time.perf_counter()
    parsed = ingest_bundled(store)
    if EDITION1_FIXTURE.exists():
        parsed += ingest_paths([EDITION1_FIXTURE], store)
    elapsed = time.perf_counter() - t0
    corpus = store.load()
    n_clauses = sum(len(p.clauses) for p in parsed)
    chars = sum(len(c.text) for p in parsed for c in p.clauses)
    return RealCorpus(corpus, {
        "files": len(parsed), "clauses": n_clauses, "chars": chars, "seconds": round(elapsed, 3),
        "clauses_per_s": round(n_clauses / elapsed, 1), "chars_per_s": round(chars / elapsed),
        "includes_edition1_fixture": EDITION1_FIXTURE.exists(),
    })


def indexable_rows(corpus: Corpus) -> int:
    return sum(1 for p in corpus for _ in clause_texts(p, BuildConfig().chunking))


# -- synthetic corpora ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Synthetic:
    corpus: Corpus
    rows: int
    documents: int
    editions: int
    template_of: dict[str, str] = field(default_factory=dict)  # synthetic clause key -> real clause key


class _Perturber:
    def __init__(self, rng: random.Random, pools: dict[str, list[str]]) -> None:
        self.rng = rng
        self.pools = pools

    def sub(self, text: str, memo: dict[str, str], p_number: float = 0.6) -> str:
        rng = self.rng

        def number(m: re.Match[str]) -> str:
            s = m.group()
            if s not in memo:
                if rng.random() < p_number:
                    wide = not s.isascii()
                    n = len(s)
                    new = str(rng.randint(10 ** (n - 1) if n > 1 else 1, 10 ** n - 1))
                    memo[s] = new.translate(_FULLWIDTH) if wide else new
                else:
                    memo[s] = s
            return memo[s]

        def place(m: re.Match[str]) -> str:
            s = m.group()
            if s not in memo:
                memo[s] = rng.choice(PREFECTURES if s in PREFECTURES else MUNICIPALITIES)
            return memo[s]

        return _PLACE.sub(place, _NUMBER.sub(number, text))

    def splice(self, text: str, kind: str, keep_first_line: bool, p: float = 0.3) -> str:
        """Replace some sentences with sentences of other clauses of the same kind."""
        pool = self.pools.get(kind) or []
        lines = text.split("\n")
        head, rest = (lines[:1], lines[1:]) if keep_first_line else ([], lines)
        out_lines = []
        for line in rest:
            parts = _SENTENCE.findall(line)
            if not parts or not pool:
                out_lines.append(line)
                continue
            out_lines.append("".join(self.rng.choice(pool) if self.rng.random() < p else s for s in parts))
        return "\n".join(head + out_lines)


def _sentence_pools(corpus: Corpus) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for c in corpus.all_clauses():
        body = c.text.split("\n", 1)[1] if c.kind == "item" and "\n" in c.text else c.text
        pools.setdefault(c.kind, []).extend(s for s in _SENTENCE.findall(body) if len(s) >= 8)
    return pools


def synthesize(real: Corpus, target_rows: int, seed: int = 7, p_second_edition: float = 0.25) -> Synthetic:
    """A corpus of about ``target_rows`` indexable clauses (all editions counted), grown from ``real``.

    Documents come out in a fixed order for a seed, so a smaller corpus is a prefix of a larger one."""
    rng = random.Random(seed)
    templates = [real.get(d) for d in real.doc_ids]  # latest editions
    pert = _Perturber(rng, _sentence_pools(real))
    chunking = BuildConfig().chunking
    rows_of = {p.document.key: sum(1 for _ in clause_texts(p, chunking)) for p in templates}
    docs: list[ParsedDocument] = []
    template_of: dict[str, str] = {}
    rows = n_docs = 0
    i = 0
    while rows < target_rows:
        t = templates[i % len(templates)] if i < len(templates) else rng.choice(templates)
        i += 1
        n_docs += 1
        muni = rng.choice(MUNICIPALITIES)
        doc_id = f"syn{n_docs:06d}-{t.document.id}"[:64]
        year = rng.randint(2019, 2027)
        issued = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        two = rng.random() < p_second_edition
        first = _synth_edition(t, pert, doc_id, muni, 1, "第1版" if two else None, issued, template_of)
        docs.append(first)
        rows += rows_of[t.document.key]
        if two and rows < target_rows:
            second = _next_edition(first, t, pert, issued + dt.timedelta(days=rng.randint(30, 400)), template_of)
            docs.append(second)
            rows += rows_of[t.document.key]
    corpus = Corpus(docs)
    return Synthetic(corpus, indexable_rows(corpus), len(corpus.doc_ids), len(corpus), template_of)


def _synth_edition(t: ParsedDocument, pert: _Perturber, doc_id: str, muni: str, edition: int,
                   edition_label: str | None, issued: dt.date, template_of: dict[str, str]) -> ParsedDocument:
    memo: dict[str, str] = {}
    src = t.document
    title = f"{muni} " + pert.sub(src.title, memo)
    doc = Document(id=doc_id, title=title, kind=src.kind, label=f"{src.label}（{muni}）", edition=edition,
                   edition_label=edition_label, issued=issued, effective=None,
                   source_name=f"synthetic:{src.id}", source_sha256="")
    clauses = []
    for c in t.clauses:
        cmemo = dict(memo)
        heading = pert.sub(c.heading, cmemo)
        text = pert.splice(c.text, c.kind, keep_first_line=c.kind in ("item", "clause"))
        if len(c.text) > 40 and pert.rng.random() < 0.5:  # one more sentence from elsewhere, as a revision would
            text += pert.rng.choice(pert.pools.get(c.kind) or [""])
        text = pert.sub(text, cmemo)
        answer = pert.sub(c.answer, cmemo) if c.answer else None
        new = replace(c, doc_id=doc_id, edition=edition, heading=heading, text=text, answer=answer,
                      citation=doc.citation(c.section).render(), changed_spans=(), refs=())
        clauses.append(new)
        template_of[new.key] = c.key
    return ParsedDocument(doc, tuple(clauses), "")


def _next_edition(prev: ParsedDocument, t: ParsedDocument, pert: _Perturber, issued: dt.date,
                  template_of: dict[str, str]) -> ParsedDocument:
    """Edition 2: the same clauses with about a third of them revised (numbers changed, a sentence swapped)."""
    doc = replace(prev.document, edition=2, edition_label="第2版", issued=issued)
    clauses = []
    for c, tc in zip(prev.clauses, t.clauses):
        if pert.rng.random() < 0.33:
            memo: dict[str, str] = {}
            text = pert.sub(pert.splice(c.text, c.kind, keep_first_line=True, p=0.2), memo, p_number=0.3)
            c = replace(c, text=text)
        new = replace(c, edition=2, citation=doc.citation(c.section).render())
        clauses.append(new)
        template_of[new.key] = tc.key
    return ParsedDocument(doc, tuple(clauses), "")


def prefix(s: Synthetic, target_rows: int) -> Synthetic:
    """The first documents of ``s`` up to ``target_rows`` rows (a smaller corpus from the same stream)."""
    chunking = BuildConfig().chunking
    by_doc: dict[str, list[ParsedDocument]] = {}
    order: list[str] = []
    for p in s.corpus:
        by_doc.setdefault(p.document.id, []).append(p)
    order = sorted(by_doc)  # ids are numbered in generation order
    keep: list[ParsedDocument] = []
    rows = 0
    for d in order:
        if rows >= target_rows:
            break
        for p in by_doc[d]:
            keep.append(p)
            rows += sum(1 for _ in clause_texts(p, chunking))
    corpus = Corpus(keep)
    keys = {c.key for c in corpus.all_clauses()}
    return Synthetic(corpus, indexable_rows(corpus), len(corpus.doc_ids), len(corpus),
                     {k: v for k, v in s.template_of.items() if k in keys})
