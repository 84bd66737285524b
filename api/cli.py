"""The `regkb` command line: thin commands over the library functions, errors turned into messages in one place."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.settings import get_settings
from corpus.errors import RegkbError
from corpus.store import Store

app = typer.Typer(
    help="regkb — a cited knowledge base for Japanese regulation documents.\n\n"
         "Example: regkb ingest && regkb build && regkb search \"学校保健安全法の医療費援助も補助対象？\"",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger(__name__)


class State:
    data_dir: Path = Path("var")


state = State()


@app.callback()
def _options(
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar="REGKB_DATA_DIR", help="Where the corpus and index live (default ./var).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    state.data_dir = data_dir or get_settings().data_dir


def _store() -> Store:
    return Store(state.data_dir)


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from ingest.dates import parse_date

    try:
        return parse_date(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def _echo_json(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=1))


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Text or PDF files; none: the bundled corpus.")] = None,
    doc: Annotated[Optional[str], typer.Option("--doc", help="Document id (a new edition keeps the id).")] = None,
    edition: Annotated[Optional[int], typer.Option("--edition", min=1, help="Edition number (第N版).")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="Issue date, YYYY-MM-DD or 令和8年3月9日.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="qa | youkou | notice | slides.")] = None,
) -> None:
    """Ingest documents into clean, cited clauses.

    Example: regkb ingest ../shared/corpus-fixtures/hojokin-qa-edition1.txt --doc hojokin-qa --edition 1
    """
    from tqdm import tqdm

    from ingest.pipeline import Overrides, ingest_bundled, ingest_paths

    store = _store()
    if not paths:
        if doc or edition or date or kind:
            raise typer.BadParameter("--doc/--edition/--date/--kind need file paths")
        with tqdm(total=5, desc="ingest", unit="doc", disable=None) as bar:
            parsed = ingest_bundled(store, progress=lambda _: bar.update())
    else:
        overrides = Overrides(doc_id=doc, edition=edition, date=_parse_date(date), kind=kind)
        with tqdm(total=len(paths), desc="ingest", unit="file", disable=None) as bar:
            parsed = ingest_paths(paths, store, overrides, progress=lambda _: bar.update())
    for p in parsed:
        d = p.document
        label = f" {d.edition_label}" if d.edition_label else ""
        typer.echo(f"{d.id} (edition {d.edition}{label}, {d.date or 'undated'}): {len(p.clauses)} clauses "
                   f"from {d.source_name}")


@app.command()
def clauses(
    doc: Annotated[str, typer.Argument(help="Document id, e.g. hojokin-qa.")],
    edition: Annotated[Optional[int], typer.Option("--edition", help="Edition (default: latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of clause objects.")] = False,
) -> None:
    """List a document's clauses with their citations.

    Example: regkb clauses hojokin-qa --edition 1 --json
    """
    parsed = _store().load().get(doc, edition)
    if as_json:
        _echo_json([clause_json(c) for c in parsed.clauses])
        return
    for c in parsed.clauses:
        indent = "  " * _depth(c.section, c.parent)
        typer.echo(f"{indent}{c.citation}  {c.heading[:60]}")


@app.command()
def clause(
    doc: Annotated[str, typer.Argument(help="Document id.")],
    section: Annotated[str, typer.Argument(help="Section id, e.g. 3-3 or 4(2)エ.")],
    edition: Annotated[Optional[int], typer.Option("--edition", help="Edition (default: latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the clause as JSON.")] = False,
) -> None:
    """Show one clause with its citation.

    Example: regkb clause jisshi-youkou "4(2)エ"
    """
    c = _store().load().clause(doc, section, edition)
    if as_json:
        _echo_json(clause_json(c))
        return
    typer.echo(f"「{c.citation}」")
    if c.heading:
        typer.echo(c.heading)
    typer.echo("")
    typer.echo(c.text)


def clause_json(c: object) -> dict[str, object]:
    from corpus.model import Clause

    assert isinstance(c, Clause)
    d = c.to_json()
    d["doc"] = d.pop("doc_id")
    return d


def _depth(section: str, parent: str | None) -> int:
    return 0 if parent is None else (2 if "(" in parent and not parent.endswith(")") else 1 + ("(" in section and section[-1] != ")"))


def main() -> None:
    """Entry point: runs the app and turns the project's errors into one clear message and exit code 2."""
    try:
        app(standalone_mode=False)
    except RegkbError as e:
        typer.echo(f"error: {e.message}", err=True)
        if e.hint:
            typer.echo(f"hint: {e.hint}", err=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code or 0)
    except Exception as e:  # click's usage errors arrive here with standalone_mode=False
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
