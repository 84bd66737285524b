"""What the pages say about documents, editions and citations, computed once here rather than in templates.

* editions as staff read them: 「第2版・令和8年3月9日（2026-03-09）・現行」, only the editions that exist;
* the citation to copy, plain text and Markdown, with title, edition, date, clause and the clause page's URL;
* where a 「第2版で変更」 note leads: the row of the 新旧対照表 against the previous edition;
* the banner a search result gets from its verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from corpus.collection import Corpus
from corpus.dates import wareki, wareki_iso
from corpus.model import Document

NO_DATE = "日付なし"


def edition_name(d: Any) -> str:
    """「第2版」, or the document's own label (「令和5年度」); works on a Document or an API model."""
    return d.edition_label or f"第{d.edition}版"


def iso_wareki(value: str | dt.date | None) -> str:
    """A stored ISO date as the pages show it: 令和8年3月9日（2026-03-09）; "" for none."""
    if not value:
        return ""
    d = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    return wareki_iso(d)


@dataclass(frozen=True, slots=True)
class EditionChoice:
    edition: int
    name: str  # 第2版
    date: str  # 令和8年3月9日（2026-03-09） or 日付なし
    current: bool  # 現行: the edition in force today

    @property
    def label(self) -> str:
        return "・".join([self.name, self.date] + (["現行"] if self.current else []))


def edition_choices(corpus: Corpus, doc_id: str, today: dt.date | None = None) -> list[EditionChoice]:
    """The editions of one document that exist, newest first, the one in force today marked."""
    current = corpus.current(doc_id, today).document.edition
    out = []
    for p in reversed(corpus.editions(doc_id)):
        d = p.document
        out.append(EditionChoice(d.edition, edition_name(d), wareki_iso(d.date) if d.date else NO_DATE,
                                 d.edition == current))
    return out


def row_id(new: str | None, old: str | None = None) -> str:
    """The id of a 新旧対照表 row: its new section ("s-2-9"), or its old one for a removed unit ("old-2-3")."""
    return f"s-{new}" if new is not None else f"old-{old}"


def diff_row_url(doc: str, old_edition: int, new_edition: int, section: str) -> str:
    return (f"/documents/{quote(doc, safe='')}/diff?from={old_edition}&to={new_edition}"
            f"#{quote(row_id(section), safe='()-')}")


def previous_edition(corpus: Corpus, doc_id: str, edition: int) -> int | None:
    older = [p.document.edition for p in corpus.editions(doc_id) if p.document.edition < edition]
    return older[-1] if older else None


def changes_url(corpus: Corpus, doc_id: str, edition: int, section: str, note: str | None) -> str | None:
    """Where an edition note (「第2版で変更」) leads: that clause's row in the diff against the previous edition."""
    if not note:
        return None
    old = previous_edition(corpus, doc_id, edition)
    return diff_row_url(doc_id, old, edition, section) if old is not None else None


@dataclass(frozen=True, slots=True)
class CopyTexts:
    plain: str
    markdown: str


def _md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def copy_texts(*, answer: str | None, citation: str, title: str, date: str | None, url: str) -> CopyTexts:
    """The citation staff paste into a reply: the answer (Q&A items only — a slide or clause heading is not an
    answer, so other hits copy the citation alone), then 出典 with the clause's citation (document, edition,
    section), the document's title and date, and the clause page's absolute URL."""
    when = wareki(dt.date.fromisoformat(date)) if date else NO_DATE
    source = f"出典：{citation}（{title}、{when}）"
    plain = f"{answer}\n{source}\n{url}" if answer else f"{source}\n{url}"
    md_source = f"出典：[{_md(citation)}]({url})（{_md(title)}、{when}）"
    markdown = f"> {_md(answer)}\n\n{md_source}" if answer else md_source
    return CopyTexts(plain, markdown)


@dataclass(frozen=True, slots=True)
class Banner:
    kind: str  # the verdict: answer | check | out_of_scope
    title: str
    text: str


BANNERS = {
    "check": Banner("check", "関連する条項です。内容を確認してください。",
                    "質問に直接答える条項かどうかは確かではありません。各条項の本文を読んで判断してください。"),
    "out_of_scope": Banner("out_of_scope", "この資料群はこの質問を扱っていません。",
                           "登録されている要綱・Q&A・事務連絡・説明資料に、この質問に答える条項はありませんでした。"
                           "下の条項は言葉が似ているだけの参考です。担当部署や他の資料を確認してください。"),
}


def banner(verdict: str) -> Banner | None:
    return BANNERS.get(verdict)


def document_title(d: Document) -> str:
    return d.title or d.label
