"""Line-level cleaning of extracted text: artefacts out, wrapped lines joined, markers kept.

Extracted Japanese text breaks lines mid-sentence (often with blank lines between the halves). Lines are joined
unless the previous one ends a sentence or the next one starts a new block (bullet, arrow, note, item marker).
Japanese has no word spaces, so joins add nothing, except between two Latin/digit runs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from corpus.textnorm import repair

# Markdown emphasis left by some extraction tools ("**令和8年度 …**").
_EMPHASIS = re.compile(r"\*\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Closing brackets are not terminal: 「…」 and （…） close mid-sentence far more often than at its end.
_TERMINAL = tuple("。．.！？!?】>＞:：")
_BLOCK_START = re.compile(
    r"^(?:[-‐−－•・●○◎◆◇■□▪※→⇒➡✓①-⑳㉑-㉟㊱-㊿【＜<\[［]"
    r"|\(※|（※"
    r"|[ア-ン][\s\u3000]"
    r"|[(（][0-9０-９一二三四五六七八九十]{1,2}[)）]"
    r"|[0-9０-９]{1,2}\s*[-−－‐]\s*[0-9０-９]"
    r"|[0-9０-９]{1,2}[.．][\s\u3000]"
    r"|【例)"
)


def clean_line(line: str) -> str:
    """One extracted line, artefacts removed, outer white space stripped (ASCII and full-width)."""
    line = _CONTROL.sub("", line)
    line = _EMPHASIS.sub("", repair(line))
    return line.strip(" \t\u3000\r\f")


def clean_lines(text: str) -> list[str]:
    return [clean_line(x) for x in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


# Underlined runs from PDFs travel through cleaning as these two private-use marks (see ingest/structure.py).
MARK_START, MARK_END = "\ue000", "\ue001"
_MARKS = str.maketrans("", "", MARK_START + MARK_END)


def starts_block(line: str) -> bool:
    return bool(_BLOCK_START.match(line))


def _joiner(prev: str, nxt: str) -> str:
    if prev and nxt and prev[-1].isascii() and prev[-1].isalnum() and nxt[0].isascii() and nxt[0].isalnum():
        return " "
    return ""


def unwrap(lines: Iterable[str]) -> str:
    """Join wrapped lines into paragraphs; paragraphs are separated by one newline."""
    paragraphs: list[str] = []
    pending_blank = False
    for line in lines:
        if not line:
            pending_blank = True
            continue
        if paragraphs:
            prev = paragraphs[-1]
            # Decide on the visible text: an underline mark next to 。 or a bullet must not hide it.
            continues = not prev.translate(_MARKS).endswith(_TERMINAL) and not starts_block(line.translate(_MARKS))
            if continues:
                paragraphs[-1] = prev + _joiner(prev, line) + line
                pending_blank = False
                continue
        paragraphs.append(line)
        pending_blank = False
    del pending_blank  # blank lines only matter through the join rule above
    return "\n".join(paragraphs)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
