"""Print the confidence signals for in-corpus and out-of-corpus questions, and the rule's accuracy on them.

Usage: python -m eval.calibrate eval/dev.jsonl eval/out-of-corpus.jsonl [--data-dir var]
The thresholds in index/confidence.py are read off this table (a margin between the two groups), never per question.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.question_set import load_questions
from index.search import Searcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    args = parser.parse_args()
    searcher = Searcher.load(args.data_dir)
    rows = []
    for f in args.files:
        for q in load_questions(f):
            r = searcher.search(q.question, k=5)
            c = r.confidence
            agree = bool(r.hits) and r.hits[0].bm25_rank == 1 and r.hits[0].dense_rank == 1
            rows.append((q.out_of_corpus, q.id, c["dense_top"] or 0.0, c["row_coverage"], c["coverage"], agree,
                         r.confident, q.question))
    print("| group | id | dense_top | row coverage | coverage | top agrees | confident | question |")
    print("|---|---|---|---|---|---|---|---|")
    for ood, qid, d, b, cov, agree, conf, text in sorted(rows, key=lambda r: (r[0], r[2])):
        print(f"| {'OUT' if ood else 'in'} | {qid} | {d:.3f} | {b:.2f} | {cov:.2f} | {agree} | {conf} | {text} |")
    inside = [r for r in rows if not r[0]]
    outside = [r for r in rows if r[0]]
    print(f"\nconfident in corpus: {sum(r[6] for r in inside)}/{len(inside)}; "
          f"not confident out of corpus: {sum(not r[6] for r in outside)}/{len(outside)}")


if __name__ == "__main__":
    main()
