"""The `regkb` command line: thin commands over the library functions, errors turned into messages in one place."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.settings import get_settings
from cli.answers import app as answers_app
from cli.options import DataDirOption, RootDataDirOption, chosen_data_dir, start
from corpus.dates import parse_date_param
from corpus.errors import RegkbError
from corpus.model import DEFAULT_LABELS, DOC_KINDS
from corpus.store import Store

app = typer.Typer(
    help="regkb — a cited knowledge base for Japanese regulation documents.\n\n"
         "Example: regkb ingest && regkb build && regkb search \"学校保健安全法の医療費援助も補助対象？\"",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(answers_app, name="answers")
log = logging.getLogger(__name__)


@app.callback()
def _options(
    given_data_dir: RootDataDirOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    level = logging.INFO if verbose else logging.WARNING
    # The level on the handler too: a library that sets its own logger to DEBUG (bm25s does, at import) would
    # otherwise reach this handler, which checks only its own level when a record propagates.
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    start(given_data_dir)


def _store() -> Store:
    return Store(chosen_data_dir())


def _echo_json(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=1))


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Text, PDF or law (e-Gov HTML / law Markdown) files, or "
                                                          "one directory or .tar.xz of law files; none: the bundled "
                                                          "corpus.")] = None,
    doc: Annotated[Optional[str], typer.Option("--doc", help="Document id (a new edition keeps the id).")] = None,
    edition: Annotated[Optional[int], typer.Option("--edition", min=1, help="Edition number (第N版).")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="Issue date, YYYY-MM-DD or 令和8年3月9日.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help=" | ".join(DEFAULT_LABELS) + " (a statute is "
                                                "recognised from its file).")] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="Do not refresh an existing index afterwards.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Ingest documents into clean, cited clauses; an existing index is rebuilt so a new edition is searched at once.

    Example: regkb ingest ../shared/corpus-fixtures/hojokin-qa-edition1.txt --doc hojokin-qa --edition 1
    """
    from tqdm import tqdm

    from ingest.pipeline import Overrides, ingest_bundled, ingest_paths

    store = _store()
    if not paths:
        if doc or edition or date or kind:
            raise typer.BadParameter("--doc/--edition/--date/--kind need file paths")
        from ingest.pipeline import bundled_entries

        with tqdm(total=len(bundled_entries()), desc="ingest", unit="doc", disable=None) as bar:
            parsed = ingest_bundled(store, progress=lambda _: bar.update())
    elif len(paths) == 1 and _is_law_archive(paths[0]):
        if doc or edition or date or kind:
            raise typer.BadParameter("--doc/--edition/--date/--kind do not apply to a directory or archive of laws")
        parsed = _ingest_law_archive(paths[0], store)
    else:
        overrides = Overrides(doc_id=doc, edition=edition, date=parse_date_param(date, "--date"), kind=kind)
        with tqdm(total=len(paths), desc="ingest", unit="file", disable=None) as bar:
            parsed = ingest_paths(paths, store, overrides, progress=lambda _: bar.update())
    # Saved answers follow the new editions at once; the store has committed, so this never sees a failed ingest.
    from corpus.answers_recheck import recheck_answers

    report = recheck_answers(chosen_data_dir())
    for p in parsed:
        d = p.document
        label = f" {d.edition_label}" if d.edition_label else ""
        typer.echo(f"{d.id} (edition {d.edition}{label}, {d.date or 'undated'}): {len(p.clauses)} clauses "
                   f"from {d.source_name}")
    if report.checked:
        typer.echo(report.summary())
    from index.layout import index_root

    if not no_build and (index_root(chosen_data_dir()) / "CURRENT").exists():
        # A running server notices the new build and swaps it in; searches keep being answered meanwhile.
        from index.build import rebuild_like_current

        path = rebuild_like_current(chosen_data_dir(), encoder=get_settings().encoder())
        typer.echo(f"index rebuilt: {path.name}")


def _is_law_archive(path: Path) -> bool:
    from ingest.law_ingest import is_archive

    return is_archive(path)


def _ingest_law_archive(path: Path, store: Store) -> list:
    """A directory or .tar.xz of e-Gov law files: streamed, bad files skipped and recorded, unchanged laws left as
    they are. Prints a summary instead of one line per law."""
    from tqdm import tqdm

    from ingest.law_ingest import ingest_law_archive

    with tqdm(desc="ingest laws", unit="file", disable=None) as bar:
        report = ingest_law_archive(path, store, progress=lambda _: bar.update())
    typer.echo(f"{report.files} files in {report.seconds:.1f} s ({report.files_per_s:.1f} files/s): "
               f"{report.stored} laws stored ({report.articles} articles, {report.clauses} clauses), "
               f"{report.unchanged} unchanged, {len(report.skipped)} skipped")
    for s in report.skipped[:20]:
        typer.echo(f"  skipped {s['file']}: {s['reason']}")
    if report.skipped:
        typer.echo(f"  the skipped files are listed in {report.report_path}")
    return []


@app.command()
def clauses(
    doc: Annotated[str, typer.Argument(help="Document id, e.g. hojokin-qa.")],
    edition: Annotated[Optional[int], typer.Option("--edition", help="Edition (default: latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of clause objects.")] = False,
    data_dir: DataDirOption = None,
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
    data_dir: DataDirOption = None,
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


@app.command()
def build(
    no_dense: Annotated[bool, typer.Option("--no-dense", help="Keyword index only (no embedding model).")] = False,
    model: Annotated[Optional[str], typer.Option("--model",
                                                 help="A local sentence-transformers folder (default e5-small).")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Only embed shard i/n of the passages (e.g. 0/2), "
                                                 "resumably, for parallel workers; a later plain build merges them.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="With --shard: embed at most this many "
                                                 "passages in this run.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Build the search index from the ingested corpus (written aside, then swapped in atomically).

    Example: regkb build   (large corpora: regkb build --shard 0/2 & regkb build --shard 1/2; then regkb build)
    """
    from tqdm import tqdm

    if shard is not None:
        from index.shards import parse_shard, run_shard

        try:
            parse_shard(shard)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        encoder = get_settings().encoder()
        if model:
            encoder = replace(encoder, model=model)
        with tqdm(desc=f"embed shard {shard}", unit="passage", disable=None) as bar:
            def tick(done: int, total: int) -> None:
                bar.total, bar.n = total, done
                bar.refresh()

            r = run_shard(chosen_data_dir(), shard, encoder, limit, tick)
        typer.echo(f"shard {r.shard}/{r.of}: {r.passages} passages, {r.already} done before, {r.embedded} embedded "
                   f"now in {r.seconds:.1f} s ({r.per_second:.1f} passages/s); run `regkb build` when all are done")
        return

    from index.build import BuildConfig, build_index

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, disable=None))
        bar.n = done
        bar.refresh()

    encoder = get_settings().encoder()  # REGKB_EMBEDDING_MODEL and the model cache come from the settings
    if model:
        encoder = replace(encoder, model=model)
    path = build_index(chosen_data_dir(), BuildConfig(encoder=encoder, dense=not no_dense), progress=progress)
    for bar in bars.values():
        bar.close()
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    c = manifest["counts"]
    typer.echo(f"built {manifest['build_id']}: {c['rows']} clauses indexed ({c['editions']} editions, "
               f"{c['passages']} passages), faiss {(manifest.get('dense') or {}).get('factory', '-')}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question, in plain Japanese.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many results.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    doc: Annotated[Optional[str], typer.Option("--doc", help="Only this document id.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Only " + " | ".join(DOC_KINDS) + ".")] = None,
    edition: Annotated[Optional[int], typer.Option("--edition", help="Only this edition.")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="The editions in force on this date.")] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | bm25 | dense.")] = "hybrid",
    data_dir: DataDirOption = None,
) -> None:
    """Search the corpus; every result is cited (document, edition, section).

    Example: regkb search "学校保健安全法の医療費援助も補助対象？" --k 5
    """
    from index.search import SearchFilters, Searcher

    settings = get_settings()
    searcher = Searcher.load(chosen_data_dir(), encoder=settings.encoder(), max_query_chars=settings.max_query_chars,
                             vocabulary=settings.vocabulary())
    when = parse_date_param(as_of, "--as-of")
    result = searcher.search(query, k=k, mode=mode,  # type: ignore[arg-type]
                             filters=SearchFilters(doc=doc, kind=kind, edition=edition, as_of=when))
    # With --as-of, an undated document (or one issued later) is left out, and the output says so.
    left_out = []
    if when is not None:
        docs = [doc] if doc else [d for d in searcher.corpus.doc_ids
                                  if kind is None or searcher.corpus.get(d).document.kind == kind]
        left_out = searcher.corpus.out_of_date_range(when, docs)
    if as_json:
        _echo_json({**result.to_json(), "as_of_excluded": [{"doc": d.id, "title": d.title, "reason": why}
                                                            for d, why in left_out]})
        return
    for d, why in left_out:
        reason = "日付なしのため、この日に有効だったか分かりません" if why == "undated" else "この日より後に発行されました"
        typer.echo(f"（基準日 {when}：「{d.title}」は検索に含めていません — {reason}）")
    for c in result.unresolved_citations:
        typer.echo(f"（「{c}」は収録した文書にありません。番号・法令名をご確認ください）")
    if result.added_terms:
        typer.echo("（" + "".join(f"「{w}」" for w in result.added_terms) + "を補って検索しました）")
    if not result.confident:
        typer.echo("（確信度低）この質問に直接答える条項は見つかりませんでした。参考までに近い条項を示します。\n")
    for i, h in enumerate(result.hits, start=1):
        note = f" [{h.note}]" if h.note else ""
        typer.echo(f"{i}. 「{h.citation}」{note}  score={h.score:.4f} (bm25 #{h.bm25_rank}, dense #{h.dense_rank})")
        if h.answer:
            typer.echo(f"   回答: {h.answer}")
        typer.echo(f"   {h.heading[:80]}")
        typer.echo(f"   {_mark(h.snippet, h.snippet_highlights)}\n")


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in spans:
        out += [text[pos:s], "【", text[s:e], "】"]
        pos = e
    return "".join(out + [text[pos:]]).replace("\n", " ")


@app.command(name="eval")
def eval_cmd(
    questions: Annotated[Path, typer.Argument(help="Questions in dev.jsonl format.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50)] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | bm25 | dense | all.")] = "all",
    run: Annotated[Optional[Path], typer.Option("--run", help="Save the run(s) here (JSONL; .MODE added for all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ood: Annotated[Optional[Path], typer.Option("--ood", help="Out-of-corpus questions (default: the bundled set; "
                                                "'none' to skip).")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Reliability diagram (PNG) of the hybrid mode's "
                                                 "probability; default DATA_DIR/eval/reliability.png.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Evaluate search on a question set: R@1, R@5, MRR@10, nDCG@10 per mode and per question style, confidence on
    out-of-corpus questions, and calibration (Brier score, reliability table and diagram).

    Example: regkb eval ../shared/eval/dev.jsonl --run runs/dev.jsonl
    """
    from eval.harness import report, run_questions, save_run
    from eval.question_set import load_questions
    from index.search import MODES, Searcher

    qs = load_questions(questions)
    ood_path = ood if ood is not None else Path(__file__).resolve().parent.parent / "eval" / "out-of-corpus.jsonl"
    if str(ood_path) != "none" and ood_path.exists():
        qs += load_questions(ood_path)
    modes = list(MODES) if mode == "all" else [mode]
    settings = get_settings()
    searcher = Searcher.load(chosen_data_dir(), encoder=settings.encoder(), vocabulary=settings.vocabulary())
    reports = []
    runs = {}
    for m in modes:
        the_run, confident = run_questions(searcher, qs, m, k)
        runs[m] = (the_run, confident)
        if run:
            save_run(run if len(modes) == 1 else run.with_suffix(f".{m}.jsonl"), the_run)
        reports.append(report(qs, the_run, confident, m, the_run[0]["fusion"] if the_run else {}))
    if as_json:
        _echo_json([r.to_json() for r in reports])
        return
    from eval.metrics import LABELS, METRICS

    typer.echo(f"{len([q for q in qs if not q.out_of_corpus])} questions, k={k}, index {searcher.manifest['build_id']}")
    typer.echo("| mode | " + " | ".join(LABELS[m] for m in METRICS) + " | confident (in corpus) | not confident (out of corpus) |")
    typer.echo("|---" * (len(METRICS) + 3) + "|")
    for r in reports:
        typer.echo(f"| {r.mode} | " + " | ".join(f"{r.metrics[m]:.3f}" for m in METRICS)
                   + f" | {r.confident_in_corpus}/{r.in_corpus} | {r.not_confident_out_of_corpus}/{r.out_of_corpus} |")
    for r in reports:
        for miss in r.misses:
            typer.echo(f"  {r.mode} miss {miss['id']}: {miss['question']} — expected {miss['expected']}, got {miss['got']}")
    if "hybrid" in runs:
        from eval.harness import calibration_text

        text, png = calibration_text(qs, *runs["hybrid"], plot or chosen_data_dir() / "eval" / "reliability.png")
        typer.echo(text)
        typer.echo(f"reliability diagram: {png}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Interface to listen on (default REGKB_HOST or "
                                                "127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port (default REGKB_PORT or "
                                                "8000).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the search page and the JSON API (one worker; the index is loaded once at start-up).

    Example: regkb --data-dir var serve --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from api.app import create_app

    settings = get_settings().model_copy(update={"data_dir": chosen_data_dir()})
    host, port = host or settings.host, port or settings.port
    typer.echo(f"regkb: serving on http://{host}:{port}/")
    uvicorn.run(create_app(settings), host=host, port=port, workers=1, log_level="info")


def clause_json(c: object) -> dict[str, object]:
    from corpus.model import Clause

    assert isinstance(c, Clause)
    d = c.to_json()
    d["doc"] = d.pop("doc_id")
    return d


@app.command()
def diff(
    doc: Annotated[str, typer.Argument(help="Document id, e.g. hojokin-qa.")],
    from_edition: Annotated[int, typer.Option("--from", help="The older edition.")],
    to_edition: Annotated[int, typer.Option("--to", help="The newer edition.")],
    fmt: Annotated[str, typer.Option("--format", help="json | md | html (a standalone 新旧対照表 page).")] = "md",
    changed_only: Annotated[bool, typer.Option("--changed-only", help="Leave unchanged items out (md/html).")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Compare two editions item by item, aligned by content (新旧対照表).

    Example: regkb diff hojokin-qa --from 1 --to 2 --format md
    """
    from corpus.diff import diff_editions
    from api.render_diff import to_html_page
    from api.render_diff_md import to_markdown

    if fmt not in ("json", "md", "html"):
        raise typer.BadParameter("--format must be json, md or html")
    corpus = _store().load()
    result = diff_editions(corpus.get(doc, from_edition), corpus.get(doc, to_edition))
    if fmt == "json":
        _echo_json(result.to_json())
        return
    if changed_only:
        from dataclasses import replace

        result = replace(result, items=tuple(i for i in result.items if i.change != "unchanged"))
    typer.echo(to_markdown(result) if fmt == "md" else to_html_page(result))


@app.command()
def compare(
    questions: Annotated[Path, typer.Argument(help="The question set the runs answered.")],
    runs: Annotated[list[Path], typer.Argument(help="Two or more run files saved by `regkb eval --run`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Compare saved runs: metrics side by side with paired significance tests (ranx).

    Example: regkb compare dev.jsonl runs/dev.hybrid.jsonl runs/dev.bm25.jsonl
    """
    from eval.compare import compare_runs
    from eval.question_set import load_questions

    if len(runs) < 2:
        raise typer.BadParameter("give at least two run files")
    typer.echo(compare_runs(load_questions(questions), {p.stem: p for p in runs}))


def _depth(section: str, parent: str | None) -> int:
    return 0 if parent is None else (2 if "(" in parent and not parent.endswith(")") else 1 + ("(" in section and section[-1] != ")"))


def main() -> None:
    """Entry point. Usage errors (an unknown option, a bad value) are click's to report: a usage line and the
    problem, exit code 2, in standalone mode — whichever click typer uses (typer ≥ 0.2x vendors its own, so
    catching ``click.ClickException`` here would miss them). The project's errors become one clear message and
    exit code 2."""
    try:
        app()
    except RegkbError as e:
        typer.echo(f"error: {e.message}", err=True)
        if e.hint:
            typer.echo(f"hint: {e.hint}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
