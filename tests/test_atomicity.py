"""Issue 7: builds and ingests survive SIGKILL at any point.

A real ``regkb`` process (``python -m cli.main``) is killed with SIGKILL, so no ``finally`` and no ``atexit`` runs,
in two ways:

* at random times: after a delay drawn from the measured duration of an unkilled run (stratified, so the 20 trials
  spread evenly over start-up, work and publishing); most of these land in start-up and indexing;
* at every file-system step (deterministic): the child wraps ``os.replace``/``fsync``/``unlink``/``rmdir``/``mkdir``
  and kills itself just before or just after the N-th call, for every N an unkilled run makes (the build's
  pruning of old builds is sampled), each trial in a fresh copy of one data directory.

After every kill: the index the server would load (``CURRENT`` -> ``builds/<id>``) is a complete build that loads
and answers, and is the previous one or the new one; every non-dot build directory is complete (a server could be
pointed at it); leftover ``builds/.tmp-*`` directories are allowed (never read) and a later successful build
removes them. For ingest: the store loads and holds exactly the old editions or the old ones plus the new one
(never part of one); every object the manifest names exists and is intact (content-addressed: its name is its
hash), and none is a temp file; a later successful ingest leaves no temp file and no unreferenced object.
`regkb ingest FILE` with an index present (it then rebuilds) is killed too: the server's build is the old one or
one made from the new store, and a store newer than the served build is reported stale (IndexMismatch), never
served as current. Concurrent ingests lose no edition and no object.

Most random-time kills land in start-up (imports) and indexing; the file-system-step kills are what reach the
narrow publishing windows every time.

The RNG is seeded; the seed is printed (shown on failure) and can be set with REGKB_ATOMICITY_SEED.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.errors import IndexMismatch
from corpus.store import Store
from index.build import BuildConfig, build_index
from index.layout import KEEP_BUILDS
from index.search import Searcher
from ingest.pipeline import Overrides, ingest_paths, parse_file
from tests.storeutil import ingest_bundled_without_laws

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SEED = int(os.environ.get("REGKB_ATOMICITY_SEED") or random.SystemRandom().randrange(2**31))
TRIALS = 20
Q_2_9 = "学校保健安全法に基づく医療費援助はこの補助金の対象ですか"
TOP_2_9 = "Q&A（第2版）2-9"
KEYWORD_ONLY = BuildConfig(dense=False)

# Run as `python -c KILLER --data-dir … build`: the CLI, killing itself (SIGKILL) at the REGKB_KILL_AT-th
# file-system step; with REGKB_KILL_AT=0 it runs to the end and prints how many steps it made.
KILLER = r"""
import atexit, json, os, signal, sys
target = int(os.environ["REGKB_KILL_AT"])
steps = []
def step(what):
    steps.append(what)
    if len(steps) == target:
        os.kill(os.getpid(), signal.SIGKILL)
def wrap(name):
    real = getattr(os, name)
    def wrapped(*args, **kwargs):
        step(f"before {name} {args[0]}")
        result = real(*args, **kwargs)
        step(f"after {name}")
        return result
    setattr(os, name, wrapped)
for name in ("replace", "rename", "fsync", "unlink", "rmdir", "mkdir"):
    wrap(name)
atexit.register(lambda: print("REGKB-STEPS " + json.dumps(steps), file=sys.stderr))
sys.argv = ["regkb", *sys.argv[1:]]
from cli.main import main
main()
"""


def cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args]


def killer(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", KILLER, "--data-dir", str(data_dir), *args]


def run(cmd: list[str], kill_after: float | None = None, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """(exit status, stderr); status None when the process died of SIGKILL (still running after ``kill_after`` s,
    or killed itself). The child gets its own process group, and that group is what is killed."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, **(env or {})})
    try:
        _, err = proc.communicate(timeout=kill_after if kill_after is not None else 300)
    except subprocess.TimeoutExpired:
        if kill_after is None:
            raise
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return (None if proc.returncode == -signal.SIGKILL else proc.returncode), err


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    rc, err = run(cmd)
    assert rc == 0, err
    return time.perf_counter() - t0


def stratified_delays(rng: random.Random, duration: float, n: int) -> list[float]:
    """``n`` delays in [0, duration), one drawn at random in each n-th of it, in random order."""
    delays = [duration * (i + rng.random()) / n for i in range(n)]
    rng.shuffle(delays)
    return delays


# ----------------------------------------------------------------------------------------------------- index checks
def current_id(data_dir: Path) -> str:
    return (data_dir / "index" / "CURRENT").read_text().strip()


def build_files(build: Path) -> set[str]:
    return {str(p.relative_to(build)) for p in build.rglob("*") if p.is_file()}


def check_index(data_dir: Path, ctx: str, reference: set[str], dense: bool = False,
                query: tuple[str, str] = (Q_2_9, TOP_2_9), check_corpus: bool = True) -> str:
    """What a server sees is sound: CURRENT names a complete build, which loads and answers ``query`` with the
    expected first hit. Returns its id."""
    builds = data_dir / "index" / "builds"
    build_id = current_id(data_dir)
    assert build_id and not build_id.startswith("."), f"{ctx}: CURRENT names {build_id!r}"
    for d in builds.iterdir():  # any build a server could be pointed at (no dot) is complete
        if d.name.startswith("."):
            continue
        assert (d / "manifest.json").is_file(), f"{ctx}: build {d.name} has no manifest: {sorted(build_files(d))}"
        manifest = json.loads((d / "manifest.json").read_text("utf-8"))
        want = reference | ({"dense.faiss", "passage_rows.npy"} if manifest.get("dense") else set())
        assert build_files(d) == want and manifest["build_id"] == d.name, (
            f"{ctx}: incomplete build {d.name}: missing {sorted(want - build_files(d))}")
    searcher = Searcher.load(data_dir, check_corpus=check_corpus)
    assert searcher.manifest["build_id"] == build_id
    assert searcher.search(query[0], mode="bm25").hits[0].citation == query[1], ctx
    if dense:
        assert searcher.dense is not None, ctx
        assert searcher.search(query[0]).hits[0].citation == query[1], ctx
    return build_id


def check_clean_after_success(data_dir: Path, ctx: str) -> None:
    """After a successful build nothing temporary is left, and only KEEP_BUILDS builds are kept."""
    root = data_dir / "index"
    assert not list(root.glob(".tmp-*")), f"{ctx}: {list(root.glob('.tmp-*'))}"
    assert not list((root / "builds").glob(".*")), f"{ctx}: {list((root / 'builds').glob('.*'))}"
    assert len(list((root / "builds").iterdir())) <= KEEP_BUILDS


def keyword_reference(data_dir: Path) -> set[str]:
    files = build_files(data_dir / "index" / "builds" / current_id(data_dir))
    return files - {"dense.faiss", "passage_rows.npy"}


@pytest.fixture(scope="module")
def keyword_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled documents (statutes aside) plus the Q&A 第1版, with two keyword-only builds (so a new build
    prunes one)."""
    data_dir = tmp_path_factory.mktemp("atomic-keyword")
    store = Store(data_dir)
    ingest_bundled_without_laws(store)
    ingest_paths([DATA / "hojokin-qa-edition1.txt"], store)
    build_index(data_dir, KEYWORD_ONLY)
    time.sleep(0.05)  # distinct mtimes: pruning removes the oldest
    build_index(data_dir, KEYWORD_ONLY)
    return data_dir


def test_build_killed_at_random_times(keyword_data_dir: Path, tmp_path: Path) -> None:
    print(f"atomicity seed {SEED} (REGKB_ATOMICITY_SEED={SEED} reproduces the delays)")
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    shutil.copytree(keyword_data_dir, data_dir)
    reference = keyword_reference(data_dir)
    duration = timed(cli(data_dir, "build", "--no-dense"))
    outcomes = []
    for trial, delay in enumerate(stratified_delays(rng, duration, TRIALS)):
        ctx = f"seed {SEED}, trial {trial}, killed after {delay:.3f} s of {duration:.3f} s"
        before = current_id(data_dir)
        rc, err = run(cli(data_dir, "build", "--no-dense"), kill_after=delay)
        assert rc in (None, 0), f"{ctx}: exit {rc}: {err}"
        after = check_index(data_dir, ctx, reference)
        if rc == 0:
            assert after != before, ctx  # a finished build is published
        outcomes.append(("finished" if rc == 0 else "killed", round(delay, 3), "new" if after != before else "old",
                         len(list((data_dir / "index" / "builds").glob(".tmp-*")))))
    print(f"unkilled build: {duration:.2f} s; trials (outcome, delay, CURRENT, stale .tmp dirs): {outcomes}")
    assert timed(cli(data_dir, "build", "--no-dense")) > 0
    check_index(data_dir, f"seed {SEED}: after a clean build", reference)
    check_clean_after_success(data_dir, f"seed {SEED}: after a clean build")


def _steps(err: str) -> list[str]:
    line = next(x for x in err.splitlines() if x.startswith("REGKB-STEPS "))
    return json.loads(line.removeprefix("REGKB-STEPS "))


def test_build_killed_at_every_file_system_step(keyword_data_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    reference = keyword_reference(keyword_data_dir)
    probe = tmp_path / "probe"
    shutil.copytree(keyword_data_dir, probe)
    rc, err = run(killer(probe, "build", "--no-dense"), env={"REGKB_KILL_AT": "0"})
    assert rc == 0, err
    steps = _steps(err)
    # Every step up to pruning (writing the build, publishing it, pointing CURRENT at it), then a sample of the
    # pruning of the oldest build (each file it deletes is one step).
    first_prune = next(i for i, s in enumerate(steps) if s.startswith(("before unlink", "before rmdir")))
    chosen = list(range(1, first_prune + 1))
    chosen += sorted(rng.sample(range(first_prune + 1, len(steps) + 1), min(4, len(steps) - first_prune)))
    print(f"seed {SEED}: {len(steps)} file-system steps, killing at {chosen}")
    for k in chosen:
        ctx = f"seed {SEED}, killed at step {k}: {steps[k - 1]}"
        data_dir = tmp_path / f"k{k}"
        shutil.copytree(keyword_data_dir, data_dir)
        before = current_id(data_dir)
        rc, err = run(killer(data_dir, "build", "--no-dense"), env={"REGKB_KILL_AT": str(k)})
        assert rc is None, f"{ctx}: not killed (exit {rc}): {err}"
        check_index(data_dir, ctx, reference)
        builds = {p.name for p in (data_dir / "index" / "builds").iterdir() if not p.name.startswith(".")}
        assert before in builds, f"{ctx}: the previous build was removed"
        build_index(data_dir, KEYWORD_ONLY)  # the next build cleans up after the killed one
        check_index(data_dir, f"{ctx}, then built", reference)
        check_clean_after_success(data_dir, f"{ctx}, then built")
        shutil.rmtree(data_dir)


def test_dense_build_killed_at_random_times(small_built_data_dir: Path, searcher: Searcher, tmp_path: Path) -> None:
    """A few kills of a full build (embeddings from the warm cache of the session's data directory; the statutes
    left out, as in the keyword tests above)."""
    rng = random.Random(SEED + 1)
    data_dir = tmp_path / "data"
    shutil.copytree(small_built_data_dir, data_dir)  # corpus, index and embedding cache
    reference = keyword_reference(data_dir)
    check_index(data_dir, "copy", reference, dense=True)
    duration = timed(cli(data_dir, "build"))
    outcomes = []
    for trial, delay in enumerate(stratified_delays(rng, duration, 3)):
        ctx = f"seed {SEED}, dense trial {trial}, killed after {delay:.2f} s of {duration:.2f} s"
        before = current_id(data_dir)
        rc, err = run(cli(data_dir, "build"), kill_after=delay)
        assert rc in (None, 0), f"{ctx}: exit {rc}: {err}"
        after = check_index(data_dir, ctx, reference, dense=True)
        outcomes.append(("finished" if rc == 0 else "killed", round(delay, 2), "new" if after != before else "old"))
    print(f"seed {SEED}: unkilled dense build {duration:.2f} s; trials {outcomes}")
    assert timed(cli(data_dir, "build", "--no-dense")) > 0
    check_clean_after_success(data_dir, f"seed {SEED}: dense, after a clean build")


# ----------------------------------------------------------------------------------------------------- store checks
def store_state(data_dir: Path, ctx: str) -> dict[str, str]:
    """edition key -> object name; asserts every named object is there, intact, and not a temp file."""
    store = Store(data_dir)
    manifest = json.loads(store.manifest_path.read_text("utf-8"))
    state = {}
    for key, entry in manifest["editions"].items():
        name = entry["object"]
        assert not name.startswith("."), f"{ctx}: the manifest names a temp file {name}"
        path = store.objects / name
        assert path.is_file(), f"{ctx}: {key} -> {name} is missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() + ".json" == name, f"{ctx}: {name} is damaged"
        state[key] = name
    corpus = store.load()
    assert len(corpus) == len(state), ctx
    return state


def check_store_clean(data_dir: Path, ctx: str) -> None:
    """After a successful ingest: no temp file anywhere in the store, no object the manifest does not name."""
    store = Store(data_dir)
    live = set(store_state(data_dir, ctx).values())
    leftovers = [p.name for p in [*store.root.glob(".tmp-*"), *store.objects.glob(".tmp-*")]]
    assert not leftovers, f"{ctx}: temp files left: {leftovers}"
    assert {p.name for p in store.objects.iterdir()} == live, ctx


@pytest.fixture(scope="module")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("atomic-store")
    ingest_bundled_without_laws(Store(data_dir))
    return data_dir


@pytest.fixture(scope="module")
def qa_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("atomic-source") / "qa-edition.txt"
    shutil.copyfile(DATA / "hojokin-qa-edition1.txt", path)
    return path


def _clauses_in(path: Path) -> int:
    return len(parse_file(path, Overrides(doc_id="hojokin-qa", kind="qa")).clauses)


def ingest_args(qa_copy: Path, edition: int, date: dt.date | None, rebuild: bool = False) -> list[str]:
    args = ["ingest", str(qa_copy), "--doc", "hojokin-qa", "--edition", str(edition)]
    return args + ([] if rebuild else ["--no-build"]) + (["--date", date.isoformat()] if date else [])


def check_ingest_outcome(data_dir: Path, before: dict[str, str], edition: int, date: dt.date | None,
                         clauses: int, ctx: str) -> str:
    """The store holds the old editions, or the old ones with this edition added/replaced in full."""
    after = store_state(data_dir, ctx)
    key = f"hojokin-qa@{edition}"
    if after == before:
        return "old"
    assert set(after) == set(before) | {key}, f"{ctx}: {sorted(set(after) ^ set(before))}"
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}, ctx
    parsed = Store(data_dir).load().get("hojokin-qa", edition)
    assert len(parsed.clauses) == clauses and all(c.edition == edition for c in parsed.clauses), ctx
    if date:
        assert parsed.document.issued == date, ctx
    return "new"


def test_ingest_killed_at_random_times(store_template: Path, qa_copy: Path, tmp_path: Path) -> None:
    print(f"atomicity seed {SEED} (REGKB_ATOMICITY_SEED={SEED} reproduces the delays)")
    rng = random.Random(SEED + 2)
    data_dir = tmp_path / "data"
    shutil.copytree(store_template, data_dir)
    clauses = _clauses_in(qa_copy)
    duration = timed(cli(data_dir, *ingest_args(qa_copy, 1, dt.date(2026, 2, 6))))
    outcomes = []
    for trial, delay in enumerate(stratified_delays(rng, duration, TRIALS)):
        # Half the trials add a new edition; half replace edition 1 with a new issue date (a new object, and the
        # old one becomes garbage: the collector must delete only that one).
        edition, date = (100 + trial, None) if trial % 2 else (1, dt.date(2026, 2, 6) + dt.timedelta(days=trial + 1))
        ctx = f"seed {SEED}, ingest trial {trial} (edition {edition}), killed after {delay:.3f} s of {duration:.3f} s"
        before = store_state(data_dir, ctx)
        rc, err = run(cli(data_dir, *ingest_args(qa_copy, edition, date)), kill_after=delay)
        assert rc in (None, 0), f"{ctx}: exit {rc}: {err}"
        state = check_ingest_outcome(data_dir, before, edition, date, clauses, ctx)
        if rc == 0:
            assert state == "new", ctx
        outcomes.append(("finished" if rc == 0 else "killed", round(delay, 3), state))
    print(f"unkilled ingest: {duration:.2f} s; trials (outcome, delay, store): {outcomes}")
    assert timed(cli(data_dir, *ingest_args(qa_copy, 99, None))) > 0
    check_store_clean(data_dir, f"seed {SEED}: after a clean ingest")


def test_ingest_that_rebuilds_killed_at_random_times(keyword_data_dir: Path, qa_copy: Path, tmp_path: Path) -> None:
    """`regkb ingest FILE` with an index present stores the edition, then rebuilds: killed anywhere, the store is
    old or new, the server's index is the old build or one built from the new store, and a store newer than the
    index is reported (IndexMismatch when loaded with the corpus check), never served as if current."""
    rng = random.Random(SEED + 3)
    data_dir = tmp_path / "data"
    shutil.copytree(keyword_data_dir, data_dir)
    reference = keyword_reference(data_dir)
    clauses = _clauses_in(qa_copy)
    pia = ("PIAはいつまでに行う必要がありますか", "実施要綱 5エ")  # a document these ingests leave alone
    duration = timed(cli(data_dir, *ingest_args(qa_copy, 60, None, rebuild=True)))
    outcomes = []
    for trial, delay in enumerate(stratified_delays(rng, duration, 8)):
        edition = 61 + trial
        ctx = f"seed {SEED}, ingest+build trial {trial}, killed after {delay:.3f} s of {duration:.3f} s"
        before = store_state(data_dir, ctx)
        before_build = current_id(data_dir)
        rc, err = run(cli(data_dir, *ingest_args(qa_copy, edition, None, rebuild=True)), kill_after=delay)
        assert rc in (None, 0), f"{ctx}: exit {rc}: {err}"
        stored = check_ingest_outcome(data_dir, before, edition, None, clauses, ctx)
        served = check_index(data_dir, ctx, reference, query=pia, check_corpus=False)
        fresh = json.loads((data_dir / "index" / "builds" / served / "manifest.json").read_text())["corpus_hash"]
        if served != before_build:  # a new build is of the store as it is now
            assert stored == "new" and fresh == Store(data_dir).state_hash(), ctx
        elif stored == "new":  # stored, not yet indexed: the old build is served, and known to be stale
            with pytest.raises(IndexMismatch):
                Searcher.load(data_dir)
        if rc == 0:
            assert stored == "new" and served != before_build, ctx
        outcomes.append(("finished" if rc == 0 else "killed", round(delay, 3), stored,
                         "rebuilt" if served != before_build else "old build"))
        if stored == "new" and served == before_build:
            build_index(data_dir, KEYWORD_ONLY)  # what the operator does when health says stale
    print(f"seed {SEED}: unkilled ingest+build {duration:.2f} s; trials (outcome, delay, store, index): {outcomes}")


@pytest.mark.parametrize("replace", [False, True], ids=["new-edition", "replaced-edition"])
def test_ingest_killed_at_every_file_system_step(store_template: Path, qa_copy: Path, tmp_path: Path,
                                                 replace: bool) -> None:
    template = tmp_path / "template"
    shutil.copytree(store_template, template)
    if replace:  # hojokin-qa@2 is replaced by the 第1版 text: a new object, and the old one is garbage
        edition, date = 2, dt.date(2026, 3, 9)
    else:
        edition, date = 7, None
    clauses = _clauses_in(qa_copy)
    probe = tmp_path / "probe"
    shutil.copytree(template, probe)
    rc, err = run(killer(probe, *ingest_args(qa_copy, edition, date)), env={"REGKB_KILL_AT": "0"})
    assert rc == 0, err
    steps = _steps(err)
    assert any(s.startswith("before unlink") for s in steps) == replace  # the garbage collection is covered
    for k in range(1, len(steps) + 1):
        ctx = f"ingest killed at step {k}: {steps[k - 1]}"
        data_dir = tmp_path / f"k{k}"
        shutil.copytree(template, data_dir)
        before = store_state(data_dir, ctx)
        rc, err = run(killer(data_dir, *ingest_args(qa_copy, edition, date)), env={"REGKB_KILL_AT": str(k)})
        assert rc is None, f"{ctx}: not killed (exit {rc}): {err}"
        check_ingest_outcome(data_dir, before, edition, date, clauses, ctx)
        ingest_paths([qa_copy], Store(data_dir), Overrides(doc_id="hojokin-qa", edition=50))  # then a good one
        check_store_clean(data_dir, f"{ctx}, then ingested")
        shutil.rmtree(data_dir)


def test_concurrent_ingests_keep_every_edition(store_template: Path, qa_copy: Path, tmp_path: Path) -> None:
    """Three ingests at once (two new editions, one replacement): the store lock serialises them, so none is lost
    and the garbage collector of one never deletes an object another has just put in the manifest."""
    data_dir = tmp_path / "data"
    shutil.copytree(store_template, data_dir)
    jobs = [(11, None), (12, None), (2, dt.date(2026, 3, 10))]
    procs = [subprocess.Popen(cli(data_dir, *ingest_args(qa_copy, e, d)), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for e, d in jobs]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    state = store_state(data_dir, "concurrent")
    assert {"hojokin-qa@11", "hojokin-qa@12", "hojokin-qa@2"} <= set(state)
    assert Store(data_dir).load().get("hojokin-qa", 2).document.issued == dt.date(2026, 3, 10)
    check_store_clean(data_dir, "concurrent")


def test_collector_keeps_every_object_the_manifest_names(store_template: Path, qa_copy: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(store_template, data_dir)
    store = Store(data_dir)
    first = store_state(data_dir, "start")
    ingest_paths([qa_copy], store, Overrides(doc_id="hojokin-qa", edition=1))
    ingest_paths([qa_copy], store, Overrides(doc_id="hojokin-qa", edition=1))  # the same object again: kept
    again = store_state(data_dir, "same content twice")
    assert set(again) == set(first) | {"hojokin-qa@1"}
    # A stray complete object (an ingest killed before its manifest) and stray temp files are collected by the
    # next put; named objects are not.
    (store.objects / ("0" * 64 + ".json")).write_text("{}")
    (store.objects / ".tmp-stray").write_text("x")
    ingest_paths([qa_copy], store, Overrides(doc_id="hojokin-qa", edition=3))
    state = store_state(data_dir, "after a stray object")
    assert {k: v for k, v in state.items() if k != "hojokin-qa@3"} == again
    check_store_clean(data_dir, "after a stray object")
