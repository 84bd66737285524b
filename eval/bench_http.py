"""The server under load, on loopback only: cold start to first answer, throughput with concurrent clients, RSS.

The server is the product's own command (``python -m cli.main --data-dir D serve --host 127.0.0.1 --port P``), one
process. Clients are threads in this process, each with its own keep-alive connection (``http.client``: the
lightest client in the standard library, so the load generator takes as little of the 2 cores as possible). The
load is bounded both in requests and in seconds, and every request uses a distinct query so the server's query
embedding cache never answers for the model.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HOST = "127.0.0.1"  # loopback only


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _path(q: str, mode: str = "hybrid", k: int = 10) -> str:
    return "/search?" + urllib.parse.urlencode({"q": q, "mode": mode, "k": k})


def memory(pid: int) -> dict[str, int]:
    """RSS now and its peak (VmHWM), in bytes, from /proc (psutil when /proc is not there); with smaps_rollup,
    also PSS and the split into anonymous (private heap) and shared file-backed pages: RSS counts a file page once
    per mapping, so a file mapped by many threads' libraries (a MeCab dictionary per tagger) inflates RSS only."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        vals = {}
        for line in status.splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM", "Threads"):
                vals[name] = int(rest.split()[0]) * (1 if name == "Threads" else 1024)
        out = {"rss": vals.get("VmRSS", 0), "peak_rss": vals.get("VmHWM", 0), "threads": vals.get("Threads", 0)}
    except OSError:
        import psutil

        info = psutil.Process(pid).memory_info()
        return {"rss": int(info.rss), "peak_rss": int(getattr(info, "peak_wset", 0) or 0)}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Anonymous", "Shared_Clean", "Private_Clean", "Private_Dirty"):
                out[name.lower()] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return float("nan")


def py_spy_summary(raw: Path, top: int = 25) -> dict[str, Any]:
    """Collapsed stacks from ``py-spy record -f raw``: samples per thread, self time and inclusive time of the
    functions that matter (search, embedding, HTTP)."""
    from collections import Counter

    threads: Counter[str] = Counter()
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack:
            continue
        n = int(n_text)
        total += n
        frames = stack.split(";")
        name = frames[0].split(":", 1)[-1].strip() if frames[0].startswith("thread") else "?"
        threads[name.rstrip("0123456789_") or name] += n
        self_t[_short(frames[-1])] += n
        for f in {_short(f).split(" (")[0] for f in frames[1:]}:
            incl[f] += n
    pct = (lambda v: round(100.0 * v / total, 1)) if total else (lambda v: 0.0)
    return {"samples": total,
            "by_thread_pct": {k: pct(v) for k, v in threads.most_common(8)},
            "self_top": [(k, pct(v)) for k, v in self_t.most_common(top)],
            "inclusive_top": [(k, pct(v)) for k, v in incl.most_common(80) if any(
                s in k for s in ("search", "rank", "encode", "assess", "_hit", "serialize", "to_response", "validate",
                                 "tokenize", "fusion", "snippet", "dumps", "render", "run_endpoint", "httptools",
                                 "h11", "asgi", "model_dump", "jsonable"))][:top]}


def _short(frame: str) -> str:
    return frame.replace(str(Path(sys.executable).parent.parent / "lib"), "").replace("site-packages/", "")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    cold_start_s: float
    health_s: float | None
    first_answer: dict[str, Any]
    log_path: Path

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Terminate a server and wait for it; kill it when it does not stop within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_server(data_dir: Path, first_query: str, log_path: Path, timeout: float = 180.0) -> Server:
    """Start the server and poll until the first /search answer: the time from process start to that answer is the
    cold start (imports, index load, model load and warm-up, the first query)."""
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve", "--host", HOST, "--port", str(port)]
    log = open(log_path, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=Path(__file__).resolve().parent.parent)
    log.close()
    path = _path(first_query)
    health_s = None
    deadline = t0 + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log_path}")
        if time.perf_counter() > deadline:
            proc.kill()
            raise RuntimeError(f"no answer within {timeout}s; see {log_path}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            if resp.status == 200:
                cold = time.perf_counter() - t0
                data = json.loads(body)
                first = {"status": resp.status, "hits": len(data.get("hits", [])),
                         "top": (data.get("hits") or [{}])[0].get("citation"), "took_ms": data.get("took_ms")}
                break
            if health_s is None:
                health_s = time.perf_counter() - t0
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected, OSError):
            pass
        time.sleep(0.05)
    return Server(proc, port, cold, health_s, first, log_path)


def load(port: int, queries: list[str], clients: int = 32, max_seconds: float = 60.0,
         mode: str = "hybrid") -> dict[str, Any]:
    """``clients`` threads, each with a keep-alive connection, take the next query until the queries are used up
    or ``max_seconds`` has passed; returns throughput, latency percentiles under load and errors."""
    work: queue.Queue[str] = queue.Queue()
    for q in queries:
        work.put(q)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            try:
                q = work.get_nowait()
            except queue.Empty:
                break
            t = time.perf_counter()
            try:
                conn.request("GET", _path(q, mode))
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                err = None if ok else f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as e:
                ok, err = False, type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            ms = (time.perf_counter() - t) * 1000
            with lock:
                if ok:
                    lat.append(ms)
                else:
                    errors.append(err or "error")
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    stop_at[0] = time.perf_counter() + max_seconds
    t0 = time.perf_counter()
    start_gate.wait()
    for th in threads:
        th.join(max_seconds + 90)
    elapsed = time.perf_counter() - t0
    a = np.asarray(lat) if lat else np.zeros(1)
    return {"clients": clients, "mode": mode, "requests_offered": len(queries), "completed": len(lat),
            "errors": len(errors), "error_kinds": sorted(set(errors))[:5], "seconds": round(elapsed, 2),
            "stopped_by": "time limit" if len(lat) + len(errors) < len(queries) else "request count",
            "qps": round(len(lat) / elapsed, 1) if elapsed else 0.0,
            "latency_p50_ms": round(float(np.percentile(a, 50)), 1),
            "latency_p95_ms": round(float(np.percentile(a, 95)), 1),
            "latency_p99_ms": round(float(np.percentile(a, 99)), 1)}


def measure_server(data_dir: Path, first_query: str, load_queries: list[str], sequential_queries: list[str],
                   log_path: Path, clients: int = 32, max_seconds: float = 60.0,
                   py_spy: Path | None = None, py_spy_seconds: float = 20.0) -> dict[str, Any]:
    """Cold start, then one client in sequence (latency through HTTP), then ``clients`` at once (throughput),
    memory after each; with ``py_spy`` (the output path), the server is sampled by py-spy during the load."""
    server = start_server(data_dir, first_query, log_path)
    spy_out: dict[str, Any] | None = None
    try:
        after_start = memory(server.proc.pid)
        seq = load(server.port, sequential_queries, clients=1, max_seconds=max_seconds)
        spy = None
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if py_spy is not None and Path(exe).exists():
            spy = subprocess.Popen([exe, "record", "-p", str(server.proc.pid), "-o", str(py_spy), "-f", "raw",
                                    "-r", "100", "-d", str(int(py_spy_seconds)), "--nonblocking", "--threads"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        cpu0 = cpu_seconds(server.proc.pid)
        result = load(server.port, load_queries, clients=clients, max_seconds=max_seconds)
        cpu = cpu_seconds(server.proc.pid) - cpu0
        result["server_cpu_s"] = round(cpu, 2)
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, result["completed"]), 1)
        after_load = memory(server.proc.pid)
        if spy is not None:
            try:
                spy.wait(timeout=py_spy_seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
            if py_spy is not None and py_spy.exists():
                spy_out = {"file": str(py_spy), "seconds": py_spy_seconds, **py_spy_summary(py_spy)}
    finally:
        server.stop()
    return {"cold_start_s": round(server.cold_start_s, 2), "first_answer": server.first_answer,
            "rss_after_start_bytes": after_start["rss"], "rss_after_load_bytes": after_load["rss"],
            "peak_rss_bytes": after_load["peak_rss"], "memory_after_start": after_start,
            "memory_after_load": after_load, "sequential": seq, "load": result, "py_spy": spy_out,
            "command": "python -m cli.main --data-dir D serve --host 127.0.0.1 --port P (uvicorn, 1 worker)"}
