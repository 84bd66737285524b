"""`regkb answers …`: saved helpdesk answers from the command line, thin over corpus.answers*."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.options import DataDirOption, chosen_data_dir
from corpus import answers_io
from corpus import answers_service as service
from corpus.answers import REVIEW_STATUSES, AnswerDraft, AnswerStore, SavedAnswer
from corpus.answers_recheck import ensure_checked, recheck_answers

app = typer.Typer(help="Saved helpdesk answers, re-checked whenever a new edition is ingested.\n\n"
                       "Example: regkb answers list --status needs-review", no_args_is_help=True)


@app.callback()
def _group(data_dir: DataDirOption = None) -> None:
    # Only for `regkb answers --data-dir X list`: the option's callback records it (cli.options).
    return None


def _store() -> AnswerStore:
    ensure_checked(chosen_data_dir())
    return AnswerStore(chosen_data_dir())


def _line(a: SavedAnswer) -> str:
    cites = ", ".join(c.citation if c.current_citation == c.citation
                      else f"{c.citation}→{c.current_citation or '（削除）'}" for c in a.citations)
    return f"#{a.id} [{a.status}] {a.question[:40]}  「{cites}」"


@app.command("list")
def list_cmd(
    status: Annotated[Optional[list[str]], typer.Option("--status", help="current | renumbered | needs-review | "
                                                        "removed (repeatable); 'review' for all three to review")] = None,
    q: Annotated[Optional[str], typer.Option("--q", help="Text in the question, answer or note.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """List saved answers, newest first.

    Example: regkb answers list --status needs-review
    """
    wanted = [s for v in status or [] for s in (REVIEW_STATUSES if v == "review" else (v,))] or None
    found = _store().list(status=wanted, q=q, limit=1_000_000)
    if as_json:
        typer.echo(json.dumps({"answers": [a.to_json() for a in found]}, ensure_ascii=False, indent=1))
        return
    for a in found:
        typer.echo(_line(a))
    if not found:
        typer.echo("(no saved answers)")


@app.command()
def show(
    answer_id: Annotated[int, typer.Argument(help="The answer's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show one answer with where each cited clause stands in the latest edition.

    Example: regkb answers show 3
    """
    a = _store().get(answer_id)
    if as_json:
        typer.echo(json.dumps(a.to_json(), ensure_ascii=False, indent=1))
        return
    typer.echo(f"#{a.id} [{a.status}]  saved {a.created_at}" + (f", reviewed {a.reviewed_at}" if a.reviewed_at else ""))
    typer.echo(f"Q: {a.question}")
    typer.echo(f"A: {a.answer}")
    for c in a.citations:
        typer.echo(f"  「{c.citation}」 → 「{c.current_citation or '（削除）'}」  {c.change}")
        row = c.diff_row or {}
        if c.change in ("modified", "renumbered+modified") and row.get("inline"):
            marked = "".join(r["text"] if r["op"] == "equal" else f"[-{r['text']}-]" if r["op"] == "delete"
                             else f"{{+{r['text']}+}}" for r in row["inline"])
            typer.echo("    " + marked.replace("\n", "\n    "))


@app.command()
def save(
    question: Annotated[str, typer.Option("--question", help="The inquiry.")],
    answer: Annotated[str, typer.Option("--answer", help="The answer text as sent.")],
    cite: Annotated[list[str], typer.Option("--cite", help="doc@edition#section or doc#section (latest); "
                                            "repeatable.")],
    note: Annotated[str, typer.Option("--note", help="Internal note.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Save an answer citing clauses.

    Example: regkb answers save --question "…対象？" --answer "対象となります。" --cite hojokin-qa#2-9
    """
    refs = tuple(answers_io.parse_ref(c) for c in cite)
    a = service.save(chosen_data_dir(), AnswerDraft(question, answer, refs, note))
    typer.echo(f"saved #{a.id} [{a.status}]")


@app.command()
def review(
    answer_id: Annotated[int, typer.Argument(help="The answer's id.")],
    answer: Annotated[Optional[str], typer.Option("--answer", help="A new answer text.")] = None,
    cite: Annotated[Optional[list[str]], typer.Option("--cite", help="New citations (default: each moved to its "
                                                      "current clause).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Mark an answer reviewed: its citations move to the clauses they now point to.

    Example: regkb answers review 3 --answer "新しい回答文"
    """
    refs = tuple(answers_io.parse_ref(c) for c in cite) if cite else None
    a = service.review(chosen_data_dir(), answer_id, answer=answer, citations=refs)
    typer.echo(f"reviewed #{a.id} [{a.status}]")


@app.command()
def delete(answer_id: Annotated[int, typer.Argument(help="The answer's id.")], data_dir: DataDirOption = None) -> None:
    """Delete a saved answer (its history is kept).

    Example: regkb answers delete 3
    """
    AnswerStore(chosen_data_dir()).delete(answer_id)
    typer.echo(f"deleted #{answer_id}")


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv (UTF-8 with BOM, opens in Excel) | json.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export every saved answer.

    Example: regkb answers export --format csv -o answers.csv
    """
    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")
    found = _store().list(limit=1_000_000)
    data = answers_io.to_csv(found) if fmt == "csv" else answers_io.to_json(found)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from corpus.fsutil import atomic_write_bytes

    atomic_write_bytes(output, data)
    typer.echo(f"exported {len(found)} answers to {output}", err=True)


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="A CSV or JSON file as exported.")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv | json (default: from the name/content).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import answers: all rows or none (a bad row names itself and nothing is stored).

    Example: regkb answers import answers.csv
    """
    from corpus.errors import AnswerImportError

    try:
        data = path.read_bytes()
    except OSError as e:
        raise AnswerImportError(f"{path}: {e.strerror or e}", "give a readable CSV or JSON file") from None
    drafts, hashes = answers_io.parse(data, fmt or answers_io.sniff_format(data, path.name))
    ids = service.import_drafts(chosen_data_dir(), drafts, hashes=hashes)
    typer.echo(f"imported {len(ids)} answers")


@app.command()
def backup(dest: Annotated[Path, typer.Argument(help="A file (e.g. answers.sqlite3), or a folder for a dated file.")],
           data_dir: DataDirOption = None) -> None:
    """A consistent copy of the answers database (safe while the server writes).

    Example: regkb answers backup backups/
    """
    typer.echo(f"backup written: {AnswerStore(chosen_data_dir()).backup(dest)}")


@app.command()
def recheck(data_dir: DataDirOption = None) -> None:
    """Re-check every saved answer against the stored corpus (ingest does this by itself).

    Example: regkb answers recheck
    """
    typer.echo(recheck_answers(chosen_data_dir()).summary())
