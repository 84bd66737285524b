"""The character diff of a modified row, in phrases rather than single characters."""

from __future__ import annotations

import difflib

from corpus.diff.model import InlineOp

MERGE_GAP = 2  # equal runs this short between two changes are folded into the change ("phrases, not confetti")


def inline_diff(old: str, new: str) -> list[tuple[InlineOp, str]]:
    """Character-level diff of two texts as ("equal" | "insert" | "delete", text) runs.

    Japanese has no word spaces, so the diff is on characters (difflib.SequenceMatcher, autojunk off so that common
    characters such as の are not discarded in long texts). Equal runs of at most ``MERGE_GAP`` characters lying
    *between* two changes are folded into the surrounding change, so that e.g. 「令和7年度」→「令和8年4月」 reads
    as one replaced phrase rather than confetti. Within a change the deletion comes before the insertion.
    Concatenating the equal and delete runs gives ``old``; the equal and insert runs give ``new``.
    """
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    out: list[tuple[InlineOp, str]] = []
    dele: list[str] = []
    ins: list[str] = []

    def flush() -> None:
        deleted, inserted = "".join(dele), "".join(ins)
        if deleted:
            out.append(("delete", deleted))
        if inserted:
            out.append(("insert", inserted))
        dele.clear()
        ins.clear()

    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            between = bool(dele or ins) and k + 1 < len(ops)
            if between and i2 - i1 <= MERGE_GAP:
                dele.append(old[i1:i2])
                ins.append(new[j1:j2])
                continue
            flush()
            out.append(("equal", old[i1:i2]))
        else:
            dele.append(old[i1:i2])
            ins.append(new[j1:j2])
    flush()
    return out
