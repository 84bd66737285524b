"""Measure design choices on a question set: tokenizer, chunking, fusion. Prints one table; nothing is tuned per
question. Usage: python -m eval.experiments QUESTIONS.jsonl [--data-dir var]

Each variant is a real build into a scratch directory (embeddings come from the shared cache, so only the first
build pays for the model), evaluated with the same harness as `regkb eval`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from corpus.store import Store
from eval.harness import report, run_questions
from eval.question_set import load_questions
from index.build import BuildConfig, build_index
from index.search import FusionConfig, Searcher
from index.tokenizer import TokenizerConfig

BASE = BuildConfig()
VARIANTS: dict[str, BuildConfig] = {
    "default": BASE,
    "surface forms": replace(BASE, tokenizer=TokenizerConfig(lemmas=False)),
    "keep light verbs": replace(BASE, tokenizer=TokenizerConfig(drop_stop=False)),
    "no number phrases": replace(BASE, tokenizer=TokenizerConfig(number_phrases=False)),
    "+ word bigrams": replace(BASE, tokenizer=TokenizerConfig(bigrams=True)),
    "keyword: no context": replace(BASE, chunking=replace(BASE.chunking, context=False)),
    "keyword: no children headings": replace(BASE, chunking=replace(BASE.chunking, children_headings=False)),
    "dense: no context": replace(BASE, chunking=replace(BASE.chunking, dense_context=False)),
    "dense: no children headings": replace(BASE, chunking=replace(BASE.chunking, dense_children=False)),
    "dense: + heading passages": replace(BASE, chunking=replace(BASE.chunking, heading_passages=True)),
    "heading boost 0": replace(BASE, chunking=replace(BASE.chunking, heading_boost=0)),
    "heading boost 2": replace(BASE, chunking=replace(BASE.chunking, heading_boost=2)),
    "heading boost 2 + heading passages": replace(BASE, chunking=replace(BASE.chunking, heading_boost=2,
                                                                         heading_passages=True)),
    "passages 300/200": replace(BASE, chunking=replace(BASE.chunking, max_chars=300, stride=200)),
}
FUSIONS: dict[str, FusionConfig] = {
    "rrf k=60": FusionConfig("rrf", 60.0),
    "rrf k=20": FusionConfig("rrf", 20.0),
    **{f"rrf k=60 bm25×{w}": FusionConfig("rrf", 60.0, {"bm25": w, "dense": 1.0}) for w in (1.25, 1.5, 2.0, 3.0)},
    **{f"rrf k=20 bm25×{w}": FusionConfig("rrf", 20.0, {"bm25": w, "dense": 1.0}) for w in (1.5, 2.0)},
    **{f"convex α(dense)={a}": FusionConfig("convex", weights={"bm25": 1 - a, "dense": a})
       for a in (0.2, 0.3, 0.4, 0.5, 0.6)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--only", choices=["build", "fusion"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    qs = load_questions(args.questions)
    scratch = Path(tempfile.mkdtemp(prefix="regkb-exp-"))
    shutil.copytree(Store(args.data_dir).root, scratch / "corpus")
    cache = Path(args.data_dir) / "cache"
    if cache.exists():
        shutil.copytree(cache, scratch / "cache")
    rows = []
    try:
        if args.only != "fusion":
            for name, config in VARIANTS.items():
                build_index(scratch, config)
                s = Searcher.load(scratch)
                for mode in ("bm25", "hybrid"):
                    run, conf = run_questions(s, qs, mode)
                    rows.append((name, mode, report(qs, run, conf, mode, {}).metrics))
        if args.only != "build":
            build_index(scratch, BASE)
            s = Searcher.load(scratch)
            for name, fusion in FUSIONS.items():
                run, conf = run_questions(s, qs, "hybrid", fusion=fusion)
                rows.append((f"fusion {name}", "hybrid", report(qs, run, conf, "hybrid", {}).metrics))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("| variant | mode | R@1 | R@5 | MRR@10 | nDCG@10 |\n|---|---|---|---|---|---|")
    for name, mode, m in rows:
        print(f"| {name} | {mode} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} |")


if __name__ == "__main__":
    main()
