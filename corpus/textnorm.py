"""Character-level repairs shared by ingest and search (pure standard library).

PDF extraction of Japanese text produces look-alike code points: Kangxi radicals (⾦ U+2FA6 for 金), CJK radical
supplements (⻑ U+2ED1 for 長) and punctuation variants. ``repair`` fixes what is an extraction artefact and keeps the
rest of the source as it is (display text stays faithful); ``fold`` is the aggressive form used for matching.
"""

from __future__ import annotations

import re
import unicodedata

# NFKC folds the Kangxi radicals block (U+2F00-2FDF) to kanji, but a few to the wrong (traditional) form.
_KANGXI_OVERRIDES = {"\u2f3e": "戸", "\u2f8f": "行", "\u2fa6": "金"}
# The CJK Radicals Supplement (U+2E80-2EFF) is left alone by NFKC; these are the forms seen in Japanese PDFs.
_RADICAL_SUPPLEMENT = {
    "⺟": "母", "⺠": "民", "⻑": "長", "⻄": "西", "⻘": "青", "⻲": "亀", "⻨": "麦", "⻩": "黄", "⻭": "歯",
    "⻯": "竜", "⻫": "斉", "⻝": "食", "⻡": "首", "⻣": "骨", "⻤": "鬼", "⻗": "雨", "⻊": "足", "⻆": "角",
    "⻅": "見", "⺼": "肉", "⻁": "虎", "⺮": "竹", "⺯": "糸", "⺩": "王", "⺬": "示", "⺝": "月", "⺒": "巳",
    "⺓": "幺", "⺗": "心", "⺢": "水", "⺣": "火", "⺫": "目", "⺲": "罒", "⻌": "辶", "⻏": "阝", "⻖": "阝",
}
_PUNCT = {"\u2027": "・", "\u30fb": "・", "\uff65": "・"}


def _repair_char(ch: str) -> str:
    if "\u2f00" <= ch <= "\u2fdf":
        return _KANGXI_OVERRIDES.get(ch) or unicodedata.normalize("NFKC", ch)
    return _RADICAL_SUPPLEMENT.get(ch) or _PUNCT.get(ch) or ch


_NEEDS_REPAIR = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf\u2027\uff65]")


def repair(text: str) -> str:
    """Undo extraction artefacts (radical look-alikes, ‧ for ・) without touching widths or wording."""
    if not _NEEDS_REPAIR.search(text):
        return text
    return _NEEDS_REPAIR.sub(lambda m: _repair_char(m.group()), text)


_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d]")
_WAVES = re.compile("[\u301c\uff5e]")
# A dash right after katakana, before kana, punctuation or the end, is the long-vowel mark typed or converted wrongly
# (ベンタ―に, サ－ビス): ー. Before kanji, digits or Latin it stays a hyphen (レセコン‐改修, Q&A 2-5, PMH-ID).
_KATAKANA_DASH = re.compile("(?<=[\u30a1-\u30fa])-(?![0-9A-Za-z\u3400-\u9fff])")


def fold(text: str) -> str:
    """The matching form: repaired, NFKC (ＰＭＨ -> PMH, ７ -> 7), lower case, dashes and waves unified, a dash after
    katakana read as the long-vowel mark (ベンタ― -> ベンター)."""
    t = unicodedata.normalize("NFKC", repair(text))
    t = _KATAKANA_DASH.sub("ー", _DASHES.sub("-", t))
    t = _WAVES.sub("~", t)
    return t.lower()


_BULLETS = "-‐−－•・●○◎→⇒➡ \u3000"


def first_sentence(text: str) -> str:
    """The direct answer: the first sentence without its bullet ("→ 可能です。…" -> "可能です。")."""
    body = text.lstrip(_BULLETS)
    for i, ch in enumerate(body):
        if ch in "。！？":
            return body[: i + 1].strip()
        if ch == "\n":
            return body[:i].strip()
    return body.strip()
