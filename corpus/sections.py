"""Section ids: one canonical half-width spelling, so "４（２）エ", "4(2)エ" and "4 (2) エ" are one id."""

from __future__ import annotations

import re
import unicodedata

# Minus and hyphen look-alikes that PDFs put into item numbers such as 2-11.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc\uff70"
_DASH_RE = re.compile(f"[{_DASHES}]")
_SPACE_RE = re.compile(r"\s+")


def normalize_section(section: str) -> str:
    """Canonical section id: NFKC, dashes folded to '-', no spaces ("2-1 1" -> "2-11", "４（１）ア" -> "4(1)ア")."""
    s = unicodedata.normalize("NFKC", section)
    s = _DASH_RE.sub("-", s)
    # Removing a space can join a base letter and a combining mark ("ｶ ﾞ"): normalise again so the id is canonical.
    return unicodedata.normalize("NFKC", _SPACE_RE.sub("", s))
