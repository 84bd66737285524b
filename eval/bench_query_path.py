"""Issue 12's targets, side by side: today's ONNX query path against the torch (sentence-transformers) path.

    python -m eval.bench_query_path [--work bench-results/query-path] [--quick]

The bundled corpus (`regkb ingest`, statutes included) is built twice, once per backend (`regkb build` with
REGKB_EMBEDDING_BACKEND=torch, and with the default, auto: int8 ONNX where the CPU has VNNI). Builds are kept in
--work and reused when the corpus has not changed. Then, in one run:

- embedding (a child process, so its models are gone before the servers start): passages per second on the same
  sample of the build's passages, the backends taking turns chunk by chunk — today's path (torch float32, fixed
  batches of 32) against bf16 torch and int8/fp32 ONNX in token-budget batches; single-query embedding latency, backends
  alternating query by query; cosine of ONNX to torch vectors for queries and passages; query-cache hits counted.
- dev eval (`regkb eval DEV --mode hybrid --json`) on each build with its own backend.
- two real `regkb serve` processes (one per backend), each started twice in alternation: ready time (first 200 on
  /health, first answer). Then, through HTTP, with distinct queries (the embedding cache never answers; the number of
  distinct queries is recorded): one client, the servers taking turns in blocks of 10 requests (hybrid, and BM25 for the
  server's own overhead); 16 clients, in runs alternating A B B A; then one client again with a CPU-heavy process beside
  them (a numpy float32 matrix-product loop on every core, started by this benchmark), then quiet again. Server RSS
  (VmRSS and its peak VmHWM) after start and after the load.

Writes --out (JSON: machine, versions, load before and after, corpus size, every figure) and the .md beside it, with a
"met" column per target. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_common import DEV, REPO, say
from eval.bench_http import HOST, cpu_seconds, free_port, load, memory, stop_process
from eval.bench_machine import load_snapshot, machine, speed_probe, versions
from index.embedding.base import PASSAGE_TOKENS

BACKENDS = {"torch": "torch", "onnx": "auto"}  # label -> REGKB_EMBEDDING_BACKEND
MIB = 1024 * 1024
SHARED_DEV = REPO.parent / "shared" / "eval" / "dev.jsonl"
HOG = ("import numpy as np\n"
       "a = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)\n"
       "while True:\n    a @ a\n")


def _env(backend: str) -> dict[str, str]:
    # The child's settings come only from here, except where the converted models are kept (no re-export).
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGKB_") or k == "REGKB_MODEL_CACHE"}
    env.update(PYTHONUNBUFFERED="1", REGKB_EMBEDDING_BACKEND=BACKENDS[backend])
    return env


def _regkb(data_dir: Path, backend: str, *args: str, timeout: float = 7200) -> str:
    cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args]
    done = subprocess.run(cmd, cwd=REPO, env=_env(backend), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def _manifest(data_dir: Path) -> dict[str, Any] | None:
    try:
        build = (data_dir / "index" / "CURRENT").read_text().strip()
        return json.loads((data_dir / "index" / "builds" / build / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _auto_passage_backend() -> str:
    """What a default build embeds passages with on this machine (reads the export record; loads no model)."""
    from index.embedding.model import choose_backend, resolve_model_spec
    from index.embedding.onnx_export import ensure_onnx_export

    _, info = ensure_onnx_export(resolve_model_spec(None)[1], for_build=True)
    return choose_backend("auto", info, "passage")


def ensure_build(data_dir: Path, backend: str) -> dict[str, Any]:
    """The bundled corpus ingested and built with ``backend``; reused when it is already there and current."""
    from corpus.store import Store

    if not Store(data_dir).exists():
        say(f"  ingest {data_dir}")
        _regkb(data_dir, backend, "ingest", "--no-build")
    m = _manifest(data_dir)
    want = "torch" if backend == "torch" else _auto_passage_backend()
    if m is None or m.get("corpus_hash") != Store(data_dir).state_hash() or (
            (m.get("model") or {}).get("backend") != want):
        say(f"  build {data_dir} ({backend}; minutes on 2 cores)")
        t0 = time.perf_counter()
        _regkb(data_dir, backend, "build")
        say(f"  built in {time.perf_counter() - t0:.0f} s")
        m = _manifest(data_dir)
    assert m is not None
    dense_s = m["timings"].get("dense_s") or 0.0
    return {"build_id": m["build_id"], "built_at": m["built_at"], "counts": m["counts"], "model": m["model"],
            "timings": m["timings"],
            # a throughput only when the build embedded every passage text (none came from its cache)
            "build_passages_per_s": (round(m["dense"]["embedded"] / dense_s, 2)
                                     if dense_s and m["dense"].get("embedded") and m["dense"].get("cached") == 0
                                     else None),
            "note": "dense_s of the build that made this index (from its manifest; a build that found its vectors in "
                    "the embedding cache is not a throughput figure)"}


# -- embedding (run in a child process) ---------------------------------------------------------------------------


def _passage_sample(data_dir: Path, n: int, seed: int = 1) -> list[str]:
    import random

    from corpus.store import Store
    from index.units import ChunkConfig, clause_texts

    corpus = Store(data_dir).load()
    texts = [p for parsed in corpus for _, _, ps in clause_texts(parsed, ChunkConfig()) for p in ps]
    return random.Random(seed).sample(texts, min(n, len(texts)))


PASSAGE_CHUNK = 128
FAST_PASSAGES = ("torch-bf16", "onnx-int8", "onnx-fp32")  # the build backends today's torch path is compared with


def embedding_phase(data_dir: Path, n_passages: int, n_queries: int, queries: list[str]) -> dict[str, Any]:
    from index.embedding import EncoderConfig, load_embedder

    embs = {b: load_embedder(EncoderConfig(backend=b), side="passage") for b in ("torch",) + FAST_PASSAGES}
    sample = _passage_sample(data_dir, n_passages)
    out: dict[str, Any] = {"passages": len(sample), "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
                           "chunk": PASSAGE_CHUNK}
    for e in embs.values():
        e.encode_passages(sample[:4])
        e.encode_query("ウォームアップ")
    # passages: chunks in turn. torch as builds ran it before (fixed batches of 32); the others as builds run them
    # now (bf16 in batches of about PASSAGE_TOKENS tokens, ONNX one passage a batch).
    secs = {b: 0.0 for b in embs}
    vecs: dict[str, list[np.ndarray]] = {b: [] for b in embs}
    for start in range(0, len(sample), PASSAGE_CHUNK):
        chunk = sample[start:start + PASSAGE_CHUNK]
        order = list(embs) if (start // PASSAGE_CHUNK) % 2 == 0 else list(reversed(embs))
        for b in order:
            t = time.perf_counter()
            vecs[b].append(embs[b].encode_passages(chunk, batch_size=32 if b == "torch" else None))
            secs[b] += time.perf_counter() - t
    out["passages_per_s"] = {b: round(len(sample) / s, 2) for b, s in secs.items()}
    pv = {b: np.vstack(v) for b, v in vecs.items()}
    # queries: one at a time, alternating, each query new to every backend's cache (bf16 never embeds queries)
    qembs = {b: embs[b] for b in ("torch", "onnx-int8", "onnx-fp32")}
    lat: dict[str, list[float]] = {b: [] for b in qembs}
    qv: dict[str, list[np.ndarray]] = {b: [] for b in qembs}
    before = {b: e.query_cache_info() for b, e in qembs.items()}
    for i, q in enumerate(queries[:n_queries]):
        for b in (list(qembs) if i % 2 == 0 else list(reversed(qembs))):
            t = time.perf_counter()
            qv[b].append(qembs[b].encode_query(q))
            lat[b].append((time.perf_counter() - t) * 1000)
    out["query_ms"] = {b: _pcts(v) for b, v in lat.items()}
    out["query_cache_hits"] = {b: e.query_cache_info().hits - before[b].hits for b, e in qembs.items()}
    qm = {b: np.vstack(v) for b, v in qv.items()}
    out["fidelity"] = {b: {"query": _cos(qm[b], qm["torch"]) if b in qm else None,
                           "passage": _cos(pv[b], pv["torch"])} for b in FAST_PASSAGES}
    out["queries"] = len(qm["torch"])
    return out


def _cos(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    c = np.sum(a * b, axis=1)
    return {"min": round(float(c.min()), 5), "p01": round(float(np.percentile(c, 1)), 5),
            "mean": round(float(c.mean()), 5), "n": int(len(c))}


def _pcts(v: list[float]) -> dict[str, float]:
    a = np.asarray(v)
    return {"n": len(v), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2)}


# -- servers ------------------------------------------------------------------------------------------------------


class Server:
    def __init__(self, label: str, data_dir: Path, log: Path) -> None:
        self.label, self.port = label, free_port()
        cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve", "--host", HOST,
               "--port", str(self.port)]
        self.t0 = time.perf_counter()
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=_env(label), stdout=f, stderr=subprocess.STDOUT)
        self.ready_health_s = self.first_answer_s = None
        self.sent: list[str] = []

    def wait_ready(self, first_query: str, timeout: float = 300) -> None:
        while self.ready_health_s is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} server exited with {self.proc.returncode}")
            if time.perf_counter() - self.t0 > timeout:
                raise RuntimeError(f"{self.label} server not ready in {timeout} s")
            try:
                status, _ = self.get("/health")
                if status == 200:
                    self.ready_health_s = time.perf_counter() - self.t0
                    break
            except OSError:
                pass
            time.sleep(0.02)
        status, body = self.get(_search_path(first_query))
        self.sent.append(first_query)
        self.first_answer_s = time.perf_counter() - self.t0
        self.health = json.loads(self.get("/health")[1])
        assert status == 200, body[:200]

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)


def _search_path(q: str, mode: str = "hybrid") -> str:
    return "/search?" + urllib.parse.urlencode({"q": q, "mode": mode, "k": 10})


def alternating_single_client(servers: list[Server], queries: list[str], mode: str = "hybrid",
                              block: int = 10) -> dict[str, dict[str, float]]:
    """One client, one keep-alive connection per server; the servers take turns in blocks of ``block`` requests,
    every server getting the same queries."""
    lat: dict[str, list[float]] = {s.label: [] for s in servers}
    errors = {s.label: 0 for s in servers}
    for b, start in enumerate(range(0, len(queries), block)):
        chunk = queries[start:start + block]
        for s in (servers if b % 2 == 0 else list(reversed(servers))):
            # a connection per block: the server closes one left idle (keep-alive timeout) while the other works
            conn = http.client.HTTPConnection(HOST, s.port, timeout=60)
            conn.connect()
            for q in chunk:
                t = time.perf_counter()
                conn.request("GET", _search_path(q, mode))
                resp = conn.getresponse()
                resp.read()
                ms = (time.perf_counter() - t) * 1000
                s.sent.append(q)
                if resp.status == 200:
                    lat[s.label].append(ms)
                else:
                    errors[s.label] += 1
            conn.close()
    return {label: {**_pcts(v), "errors": errors[label]} for label, v in lat.items()}


def throughput(servers: list[Server], pool: list[str], clients: int, seconds: float, rounds: int = 2) -> dict[str, Any]:
    """Runs of ``seconds`` with ``clients`` clients, order A B B A …; every run gets new distinct queries."""
    runs: dict[str, list[dict[str, Any]]] = {s.label: [] for s in servers}
    pos = 0
    for r in range(rounds):
        for s in (servers if r % 2 == 0 else list(reversed(servers))):
            qs = pool[pos:pos + 3000]
            pos += 3000
            cpu0 = cpu_seconds(s.proc.pid)
            res = load(s.port, qs, clients=clients, max_seconds=seconds)
            res["server_cpu_ms_per_request"] = round((cpu_seconds(s.proc.pid) - cpu0) * 1000
                                                     / max(1, res["completed"]), 1)
            s.sent.extend(qs[:res["completed"] + res["errors"]])
            runs[s.label].append(res)
    out = {}
    for label, rs in runs.items():
        done, secs = sum(r["completed"] for r in rs), sum(r["seconds"] for r in rs)
        out[label] = {"qps": round(done / secs, 1) if secs else 0.0, "completed": done,
                      "errors": sum(r["errors"] for r in rs), "runs": rs}
    return out


def start_hog() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- the run ------------------------------------------------------------------------------------------------------


def dev_eval(data_dir: Path, backend: str) -> dict[str, Any]:
    dev = SHARED_DEV if SHARED_DEV.exists() else DEV
    rep = json.loads(_regkb(data_dir, backend, "eval", str(dev), "--mode", "hybrid", "--json"))[0]
    return {"questions": str(dev), "R@1": rep["metrics"]["recall@1"], "R@5": rep["metrics"]["recall@5"],
            "MRR@10": rep["metrics"]["mrr@10"], "in_corpus": int(rep["confident_in_corpus"].split("/")[1]),
            "confident_in_corpus": rep["confident_in_corpus"],
            "not_confident_out_of_corpus": rep["not_confident_out_of_corpus"],
            "misses": [m["id"] for m in rep["misses"]]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench_query_path", description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=REPO / "bench-results" / "query-path")
    ap.add_argument("--out", type=Path, default=None, help="default WORK/../query-path.json")
    ap.add_argument("--quick", action="store_true", help="fewer requests and passages (a smoke run)")
    ap.add_argument("--single", type=int, default=200, help="single-client requests per server (hybrid)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15.0, help="each throughput run")
    ap.add_argument("--passages", type=int, default=128, help="passages in the embedding throughput sample")
    ap.add_argument("--phase", choices=["embedding"], help=argparse.SUPPRESS)
    ap.add_argument("--phase-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from eval.bench_queries import distinct_queries

    queries = distinct_queries(40_000, seed=12)
    if args.phase == "embedding":
        res = embedding_phase(args.work / "data-onnx", args.passages, 100 if args.quick else 200, queries[-400:])
        args.phase_out.write_text(json.dumps(res), "utf-8")
        return 0
    if args.quick:
        args.single, args.seconds, args.passages = 60, 6.0, 64
    out_path = args.out or args.work.parent / "query-path.json"
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"), "argv": sys.argv[1:],
                           "machine": machine(), "versions": versions(), "machine_load_start": load_snapshot(),
                           "speed_probe_start": speed_probe()}
    for name in ("onnxruntime", "tokenizers", "orjson"):
        from eval.bench_machine import _ver

        out["versions"][name] = _ver(name)
    say(f"query path benchmark: {out['machine']['cpu_model']}, {out['machine']['cores']} cores; "
        f"load {out['machine_load_start']}")

    dirs = {b: args.work / f"data-{b}" for b in BACKENDS}
    out["builds"] = {b: ensure_build(d, b) for b, d in dirs.items()}
    counts = out["builds"]["onnx"]["counts"]
    out["corpus"] = {"kind": "the bundled corpus (regkb ingest: documents and statutes)", **counts}
    say(f"corpus: {counts}")

    say("embedding: passages/s, query latency, fidelity (child process) ...")
    phase_out = args.work / "embedding-phase.json"
    cmd = [sys.executable, "-m", "eval.bench_query_path", "--phase", "embedding", "--phase-out", str(phase_out),
           "--work", str(args.work), "--passages", str(args.passages)] + (["--quick"] if args.quick else [])
    subprocess.run(cmd, cwd=REPO, check=True, timeout=3600)
    out["embedding"] = json.loads(phase_out.read_text("utf-8"))
    say(f"  {out['embedding']['passages_per_s']} passages/s; fidelity {out['embedding']['fidelity']}")

    say("dev eval per backend ...")
    out["eval"] = {b: dev_eval(d, b) for b, d in dirs.items()}
    say(f"  {out['eval']}")

    pool = queries[:-400]
    pos = 0

    def take(n: int) -> list[str]:
        nonlocal pos
        got = pool[pos:pos + n]
        pos += n
        return got

    servers: dict[str, Server] = {}
    starts: dict[str, list[dict[str, Any]]] = {b: [] for b in BACKENDS}
    hog = None
    try:
        say("servers: ready time, two starts each, alternating ...")
        for r, order in enumerate((list(BACKENDS), list(reversed(BACKENDS)))):
            for b in order:
                s = Server(b, dirs[b], args.work / f"server-{b}-{r}.log")
                s.wait_ready(take(1)[0])
                starts[b].append({"ready_health_s": round(s.ready_health_s or 0, 2),
                                  "first_answer_s": round(s.first_answer_s or 0, 2),
                                  "memory_after_start": memory(s.proc.pid)})
                if r == 0:
                    s.stop()
                else:
                    servers[b] = s
        srv = [servers[b] for b in BACKENDS]
        out["servers"] = {b: {"starts": starts[b], "health": servers[b].health} for b in BACKENDS}
        say(f"  ready: { {b: [x['ready_health_s'] for x in starts[b]] for b in BACKENDS} }")
        say("one client, hybrid and bm25, servers alternating ...")
        quiet1 = alternating_single_client(srv, take(args.single))
        out["single_bm25"] = alternating_single_client(srv, take(max(40, args.single // 2)), mode="bm25")
        say(f"  hybrid {quiet1}\n  bm25 {out['single_bm25']}")
        say(f"{args.clients} clients, runs A B B A ...")
        out["throughput"] = throughput(srv, pool[pos:], args.clients, args.seconds)
        pos += 4 * 3000
        say(f"  { {b: out['throughput'][b]['qps'] for b in BACKENDS} } q/s")
        for b in BACKENDS:
            out["servers"][b]["memory_after_load"] = memory(servers[b].proc.pid)
        say("one client beside a CPU-heavy process ...")
        hog = start_hog()
        time.sleep(1.0)
        busy = alternating_single_client(srv, take(max(60, args.single // 2)))
        hog.terminate()
        hog.wait()
        hog = None
        time.sleep(1.0)
        quiet2 = alternating_single_client(srv, take(max(60, args.single // 2)))
        out["single_hybrid"] = quiet1
        out["busy"] = {"hog": "a numpy float32 1500x1500 matmul loop (all cores, this benchmark's child)",
                       "busy": busy, "quiet_after": quiet2}
        say(f"  busy {busy}\n  quiet again {quiet2}")
        for b in BACKENDS:
            out["servers"][b]["memory_end"] = memory(servers[b].proc.pid)
            out["servers"][b]["queries_sent"] = len(servers[b].sent)
            out["servers"][b]["distinct_queries_sent"] = len(set(servers[b].sent))
    finally:
        if hog is not None:
            hog.kill()
        for s in servers.values():
            s.stop()
    out["machine_load_end"] = load_snapshot()
    out["speed_probe_end"] = speed_probe()
    out["targets"] = targets(out)
    out["total_s"] = round(time.perf_counter() - started, 1)
    text = render(out)
    out["table_markdown"] = text
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), "utf-8")
    out_path.with_suffix(".md").write_text(text + "\n", "utf-8")
    say("\n" + text + f"\n\nwrote {out_path} and {out_path.with_suffix('.md')}")
    return 0


def _p95s(out: dict[str, Any], b: str) -> tuple[float, float]:
    quiet = max(out["single_hybrid"][b]["p95"], out["busy"]["quiet_after"][b]["p95"])
    return out["busy"]["busy"][b]["p95"], quiet


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 12 for the ONNX path, with the torch path's figure beside it."""
    emb, ev, srv = out["embedding"], out["eval"], out["servers"]

    def row(name: str, onnx: Any, torch: Any, met: bool | None, note: str = "") -> dict[str, Any]:
        return {"target": name, "onnx": onnx, "torch": torch, "met": met, "note": note}

    peak = {b: srv[b]["memory_end"]["peak_rss"] / MIB for b in BACKENDS}
    ready = {b: max(x["ready_health_s"] for x in srv[b]["starts"]) for b in BACKENDS}
    first = {b: max(x["first_answer_s"] for x in srv[b]["starts"]) for b in BACKENDS}
    rate = emb["passages_per_s"]
    best = max(FAST_PASSAGES, key=lambda b: rate[b])
    fid = emb["fidelity"]["onnx-int8"]
    busy = {b: _p95s(out, b) for b in BACKENDS}
    r1 = {b: ev[b]["R@1"] for b in BACKENDS}
    n = max(1, ev["torch"]["in_corpus"])
    used = out["builds"]["onnx"]["model"]["backend"]
    return [
        row("hybrid p50 ≤ 12 ms, HTTP, 1 client", out["single_hybrid"]["onnx"]["p50"],
            out["single_hybrid"]["torch"]["p50"], out["single_hybrid"]["onnx"]["p50"] <= 12),
        row(f"≥ 100 q/s, {out['throughput']['onnx']['runs'][0]['clients']} clients", out["throughput"]["onnx"]["qps"],
            out["throughput"]["torch"]["qps"], out["throughput"]["onnx"]["qps"] >= 100),
        row("server RSS ≤ 600 MiB (peak VmHWM)", round(peak["onnx"]), round(peak["torch"]), peak["onnx"] <= 600),
        row("ready ≤ 5 s after start (first 200 on /health; worst of 2 starts)", ready["onnx"], ready["torch"],
            ready["onnx"] <= 5, f"first answer {first['onnx']} s vs {first['torch']} s"),
        row("build-time embedding ≥ 4× torch passages/s (same sample, interleaved)",
            f"{rate[best]} ({best}; int8 {rate['onnx-int8']})", f"{rate['torch']} (batches of 32)",
            rate[best] >= 4 * rate["torch"],
            f"{rate[best] / rate['torch']:.2f}×; the index was built with {used}"),
        row("query and passage vectors cosine ≥ 0.99 to torch (int8, minimum)",
            f"query {fid['query']['min']}, passage {fid['passage']['min']}", "1", min(
                fid["query"]["min"], fid["passage"]["min"]) >= 0.99),
        row("dev eval: same R@5, R@1 within one question", f"R@1 {r1['onnx']:.3f}, R@5 {ev['onnx']['R@5']:.3f}",
            f"R@1 {r1['torch']:.3f}, R@5 {ev['torch']['R@5']:.3f}",
            ev["onnx"]["R@5"] == ev["torch"]["R@5"] and abs(r1["onnx"] - r1["torch"]) <= 1 / n + 1e-9),
        row("p95 beside a CPU-heavy process ≤ 3× quiet p95", f"{busy['onnx'][0]} vs {busy['onnx'][1]} ms",
            f"{busy['torch'][0]} vs {busy['torch'][1]} ms", busy["onnx"][0] <= 3 * busy["onnx"][1],
            f"{busy['onnx'][0] / busy['onnx'][1]:.1f}× (torch {busy['torch'][0] / busy['torch'][1]:.1f}×); "
            "quiet = the worse of the runs before and after"),
        row("≥ 60 q/s and RSS ≤ 1.5 GiB at 200k clauses", "not measured", "", None,
            "this benchmark runs the bundled corpus only"),
    ]


def render(out: dict[str, Any]) -> str:
    m, c = out["machine"], out["corpus"]
    lines = [f"# regkb query path: ONNX vs torch ({out['started']}, {out['total_s']} s)", "",
             f"machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB; onnxruntime "
             f"{out['versions'].get('onnxruntime')}, torch {out['versions'].get('torch')}",
             f"load (other processes share these cores): start {out['machine_load_start']}, end "
             f"{out['machine_load_end']}",
             f"speed probe: start {out['speed_probe_start']}, end {out['speed_probe_end']}",
             f"corpus: {c['documents']} documents, {c['editions']} editions, {c['rows']} indexed clauses, "
             f"{c['passages']} passages", "",
             "| target (issue 12) | ONNX path | torch path | met |", "|---|---|---|---|"]
    for t in out["targets"]:
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['target']}{note} | {t['onnx']} | {t['torch']} | {met} |")
    lines += ["", "| through HTTP | ONNX | torch |", "|---|---|---|"]
    for label, key in (("hybrid, 1 client, p50 / p95 ms", "single_hybrid"), ("bm25, 1 client, p50 / p95 ms",
                                                                               "single_bm25")):
        lines.append(f"| {label} | {out[key]['onnx']['p50']} / {out[key]['onnx']['p95']} | "
                     f"{out[key]['torch']['p50']} / {out[key]['torch']['p95']} |")
    b = out["busy"]
    lines.append(f"| hybrid beside a CPU hog, p50 / p95 ms | {b['busy']['onnx']['p50']} / {b['busy']['onnx']['p95']}"
                 f" | {b['busy']['torch']['p50']} / {b['busy']['torch']['p95']} |")
    lines.append(f"| hybrid, quiet again, p50 / p95 ms | {b['quiet_after']['onnx']['p50']} / "
                 f"{b['quiet_after']['onnx']['p95']} | {b['quiet_after']['torch']['p50']} / "
                 f"{b['quiet_after']['torch']['p95']} |")
    t = out["throughput"]
    lines.append(f"| q/s, {t['onnx']['runs'][0]['clients']} clients (p95 ms under load) | {t['onnx']['qps']} "
                 f"({max(r['latency_p95_ms'] for r in t['onnx']['runs'])}) | {t['torch']['qps']} "
                 f"({max(r['latency_p95_ms'] for r in t['torch']['runs'])}) |")
    lines.append(f"| server CPU ms per request under load | "
                 f"{np.mean([r['server_cpu_ms_per_request'] for r in t['onnx']['runs']]):.1f} | "
                 f"{np.mean([r['server_cpu_ms_per_request'] for r in t['torch']['runs']]):.1f} |")
    s = out["servers"]
    for label, key in (("RSS after start MiB", "rss"), ("peak RSS (VmHWM) MiB", "peak_rss")):
        vals = [round((s[x]["memory_end"] if key == "peak_rss" else s[x]["starts"][-1]["memory_after_start"])[key]
                      / MIB) for x in BACKENDS]
        lines.append(f"| {label} | {vals[1]} | {vals[0]} |")
    lines.append(f"| ready (first 200 on /health), 2 starts, s | {[x['ready_health_s'] for x in s['onnx']['starts']]}"
                 f" | {[x['ready_health_s'] for x in s['torch']['starts']]} |")
    lines.append(f"| embedding backend (/health) | {s['onnx']['health'].get('embedding_backend')} | "
                 f"{s['torch']['health'].get('embedding_backend')} |")
    lines.append(f"| queries sent / distinct (the cache cannot answer) | {s['onnx']['queries_sent']} / "
                 f"{s['onnx']['distinct_queries_sent']} | {s['torch']['queries_sent']} / "
                 f"{s['torch']['distinct_queries_sent']} |")
    e = out["embedding"]
    lines += ["", f"In-process embedding ({e['passages']} passages, {e['mean_chars']} characters on average, chunks of "
              f"{e.get('chunk', 32)} in turn: torch in batches of 32 as builds ran it before, the others as builds "
              f"run them now (bf16 in batches of about {PASSAGE_TOKENS} tokens, ONNX one passage a batch); "
              f"{e['queries']} single queries in turn):", "",
              "| backend | passages/s | × torch | query p50 / p95 ms | query cache hits | cosine to torch: query "
              "min / mean, passage min / mean |", "|---|---|---|---|---|---|"]
    for be in ("torch",) + FAST_PASSAGES:
        f = e["fidelity"].get(be)
        fq = f"{f['query']['min']} / {f['query']['mean']}" if f and f["query"] else "–"
        fid = f"{fq}, {f['passage']['min']} / {f['passage']['mean']}" if f else "(reference)"
        q = e["query_ms"].get(be)
        lat = f"{q['p50']} / {q['p95']}" if q else "– (builds only)"
        ratio = e["passages_per_s"][be] / e["passages_per_s"]["torch"]
        lines.append(f"| {be} | {e['passages_per_s'][be]} | {ratio:.2f} | {lat} | "
                     f"{e['query_cache_hits'].get(be, '–')} | {fid} |")
    lines += ["", "| build | backend | passages | embedding s | passages/s | dev R@1 | dev R@5 | misses |",
              "|---|---|---|---|---|---|---|---|"]
    for be in BACKENDS:
        bd, ev = out["builds"][be], out["eval"][be]
        lines.append(f"| {bd['build_id']} | {bd['model']['backend']} | {bd['counts']['passages']} | "
                     f"{bd['timings'].get('dense_s')} | {bd['build_passages_per_s'] or 'cached'} | {ev['R@1']:.3f} | "
                     f"{ev['R@5']:.3f} | {', '.join(ev['misses'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
