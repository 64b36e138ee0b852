"""Caller overhead of llmlog beside the peers and the naive wrapper, same run, same machine.

Every contender runs in its own process (peers with their own virtualenv's
Python, see ``peers/setup.sh``), one after the other in an order that
rotates each repetition (A B C, B C A, ...), so that a busy moment of the
machine is spread over all of them. Each process makes the same calls through
real ``openai`` / ``anthropic`` clients, over ``httpx2.MockTransport`` and over
llmlog's loopback fake provider, and reports per-call wall and caller-thread
CPU time and the process CPU time including background threads.

Added cost = contender minus *bare* in the same repetition; a table cell is the
median over repetitions with the min to max range.

    python benchmarks/bench_peers.py [--quick] [--reps N] [--variants bare,llmlog,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _stats import median, percentile, spread  # noqa: E402

PEERS = ("openinference", "openllmetry", "logfire", "langsmith", "otel-genai-v2")
MAIN_VARIANTS = ("bare", "llmlog", "naive")
WORKLOADS = tuple(
    f"{provider}:{mode}:{transport}"
    for transport in ("mock", "loopback")
    for provider in ("openai", "anthropic")
    for mode in ("nonstream", "stream")
)


def python_for(variant: str) -> Path | None:
    if variant in MAIN_VARIANTS or variant.startswith("llmlog"):
        return Path(sys.executable)
    python = HERE / ".venvs" / variant / "bin" / "python"
    return python if python.exists() else None


class _Sink(BaseHTTPRequestHandler):
    """LangSmith's "nowhere": a loopback endpoint that accepts every run at once."""

    protocol_version = "HTTP/1.1"
    received = 0

    def _ok(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).received += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = _ok

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """The fake provider and the LangSmith sink, both in this (otherwise idle) process."""
    from llmlog import fake_provider

    # The stdlib server sends headers and body in two writes; with Nagle on, the
    # client's delayed ACK adds ~40 ms to every call. Measure the logging, not that.
    fake_provider._Handler.disable_nagle_algorithm = True
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    with fake_provider.start_server() as fake:
        try:
            yield fake.url, f"http://127.0.0.1:{sink.server_address[1]}"
        finally:
            sink.shutdown()


def run_one(variant: str, args: argparse.Namespace, url: str, sink: str, raw: Path) -> Any:
    python = python_for(variant)
    if python is None:
        return {"variant": variant, "error": "virtualenv missing: run benchmarks/peers/setup.sh"}
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "src")
    env["LANGSMITH_ENDPOINT"] = sink
    env.pop("LLMLOG_ENABLED", None)
    command = [
        str(python),
        str(HERE / "_worker.py"),
        f"--variant={variant}",
        f"--workloads={','.join(args.workloads)}",
        f"--calls={args.calls}",
        f"--stream-calls={args.stream_calls}",
        f"--warmup={args.warmup}",
        f"--chunks={args.chunks}",
        f"--url={url}",
        f"--out={raw}",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not raw.exists():
        return {"variant": variant, "error": f"exit {done.returncode}: {done.stderr[-2000:]}"}
    return json.loads(raw.read_text())


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Per workload: the numbers that matter, without the raw per-call lists."""
    out = {k: v for k, v in result.items() if k != "workloads"}
    out["workloads"] = {}
    for name, w in result.get("workloads", {}).items():
        if "error" in w:
            out["workloads"][name] = w
            continue
        out["workloads"][name] = {
            "wall_med": median(w["wall_ns"]) / 1e3,
            "wall_p99": percentile(w["wall_ns"], 99) / 1e3,
            "cpu_med": median(w["cpu_ns"]) / 1e3,
            "cpu_p99": percentile(w["cpu_ns"], 99) / 1e3,
            "cpu_mean": sum(w["cpu_ns"]) / len(w["cpu_ns"]) / 1e3,
            "process_cpu": w["process_cpu_ns_per_call"] / 1e3,
            "chunks": w["chunks"],
            "calls": len(w["wall_ns"]),
        }
    return out


def run_all(args: argparse.Namespace, out_dir: Path) -> list[dict[str, dict[str, Any]]]:
    """Repetitions x contenders, rotating the order; returns per-rep summaries."""
    raw_dir = out_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    reps: list[dict[str, dict[str, Any]]] = []
    with servers() as (url, sink):
        for rep in range(args.reps):
            order = (
                args.variants[rep % len(args.variants) :]
                + args.variants[: rep % len(args.variants)]
            )
            summaries: dict[str, dict[str, Any]] = {}
            for variant in order:
                started = time.monotonic()
                raw = raw_dir / f"peers-rep{rep}-{variant}.json"
                summaries[variant] = summarize(run_one(variant, args, url, sink, raw))
                status = summaries[variant].get("error", "ok").splitlines()[0][:100]
                print(
                    f"rep {rep + 1}/{args.reps} {variant:14} "
                    f"{time.monotonic() - started:5.1f}s {status}",
                    flush=True,
                )
            reps.append(summaries)
    return reps


def added(
    reps: list[dict[str, dict[str, Any]]], variant: str, workload: str, key: str
) -> list[float]:
    """``variant - bare`` for one statistic, one value per repetition where both ran."""
    values = []
    for summaries in reps:
        mine = summaries.get(variant, {}).get("workloads", {}).get(workload, {})
        bare = summaries.get("bare", {}).get("workloads", {}).get(workload, {})
        if key in mine and key in bare:
            values.append(mine[key] - bare[key])
    return values


def ratios(reps: list[dict[str, dict[str, Any]]], variant: str, workload: str) -> list[float]:
    values = []
    for summaries in reps:
        mine = summaries.get(variant, {}).get("workloads", {}).get(workload, {})
        bare = summaries.get("bare", {}).get("workloads", {}).get(workload, {})
        if "wall_med" in mine and "wall_med" in bare:
            values.append(mine["wall_med"] / bare["wall_med"])
    return values


def bare_values(reps: list[dict[str, dict[str, Any]]], workload: str, key: str) -> list[float]:
    return [
        s["bare"]["workloads"][workload][key]
        for s in reps
        if key in s.get("bare", {}).get("workloads", {}).get(workload, {})
    ]


def bare_chunks(reps: list[dict[str, dict[str, Any]]], workload: str) -> int:
    """Chunks per streamed answer of ``workload``, as the bare runs counted them (0: none)."""
    return max(
        (s.get("bare", {}).get("workloads", {}).get(workload, {}).get("chunks", 0) for s in reps),
        default=0,
    )


def table(reps: list[dict[str, dict[str, Any]]], variants: list[str], workload: str) -> list[str]:
    stream = ":stream:" in workload
    chunks = bare_chunks(reps, workload)
    head = (
        "| contender | caller CPU added, µs/call | total CPU added (incl. background), µs/call "
        "| wall added, median µs | wall added, p99 µs | wall ratio vs bare |"
    )
    rule = "|---|---|---|---|---|---|"
    if stream:
        head += " caller CPU added per chunk, µs |"
        rule += "---|"
    bare_cpu = spread(bare_values(reps, workload, "cpu_med"), 0)
    bare_wall = spread(bare_values(reps, workload, "wall_med"), 0)
    title = f"**{workload}**: bare call {bare_wall} µs wall, {bare_cpu} µs caller CPU"
    if stream:
        title += f", {chunks} chunks"
    lines = ["", title, "", head, rule]
    for variant in variants:
        if variant == "bare":
            continue
        errors = {s.get(variant, {}).get("error") for s in reps} - {None}
        w_errors = {
            s.get(variant, {}).get("workloads", {}).get(workload, {}).get("error") for s in reps
        } - {None}
        if errors or w_errors:
            reason = next(iter(errors or w_errors)).splitlines()[-1][:160].replace("|", "/")
            lines.append(f"| {variant} | did not run: {reason} |" + " |" * (5 if stream else 4))
            continue
        row = [
            variant,
            spread(added(reps, variant, workload, "cpu_med"), 1),
            spread(added(reps, variant, workload, "process_cpu"), 1),
            spread(added(reps, variant, workload, "wall_med"), 1),
            spread(added(reps, variant, workload, "wall_p99"), 1),
            spread(ratios(reps, variant, workload), 3, "x"),
        ]
        if stream and chunks:
            per_chunk = [v / chunks for v in added(reps, variant, workload, "cpu_med")]
            row.append(spread(per_chunk, 3))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def target_checks(reps: list[dict[str, dict[str, Any]]], variants: list[str]) -> list[str]:
    """The issue's targets, each with the measured number (mock transport: least noise)."""
    lines = ["", "| target | measured (median over repetitions) | met? |", "|---|---|---|"]
    for provider in ("openai", "anthropic"):
        workload = f"{provider}:nonstream:mock"
        cpu = median(added(reps, "llmlog", workload, "cpu_med"))
        lines.append(
            f"| {provider}: caller CPU added per non-stream call ≤ 20 µs "
            f"| {cpu:.1f} µs | {_yes(cpu <= 20)} |"
        )
        total = median(added(reps, "llmlog", workload, "process_cpu"))
        lines.append(
            f"| {provider}: total CPU added per record (incl. writer, `secrets`) ≤ 30 µs "
            f"| {total:.1f} µs | {_yes(total <= 30)} |"
        )
        workload = f"{provider}:stream:mock"
        chunks = bare_chunks(reps, workload)
        if chunks:
            per_chunk = median(added(reps, "llmlog", workload, "cpu_med")) / chunks
            lines.append(
                f"| {provider}: caller CPU added per streamed chunk ≤ 0.25 µs "
                f"| {per_chunk:.3f} µs | {_yes(per_chunk <= 0.25)} |"
            )
    peers = [v for v in variants if v not in ("bare", "llmlog", "naive")]
    for key, what, others in (
        ("cpu_med", "caller CPU", peers),
        ("process_cpu", "total CPU", peers),
        ("cpu_med", "caller CPU", ["naive"]),
        ("process_cpu", "total CPU", ["naive"]),
    ):
        beaten, rows = [], 0
        for workload in WORKLOADS:
            mine = median(added(reps, "llmlog", workload, key))
            for peer in others:
                theirs = added(reps, peer, workload, key)
                if theirs and mine == mine:
                    rows += 1
                    if mine >= median(theirs):
                        beaten.append(f"{peer} on {workload}")
        verdict = _yes(not beaten) if rows else "n/a"
        detail = "lower on all" if not beaten else "not lower than " + ", ".join(beaten)
        than = "every peer" if others == peers else "the naive wrapper (not a target)"
        lines.append(
            f"| {what} added lower than {than}, every row "
            f"| {detail} ({rows} comparisons) | {verdict} |"
        )
    return lines


_NAMES = {
    "llmlog": "**llmlog**",
    "openinference": "OpenInference",
    "openllmetry": "OpenLLMetry",
    "logfire": "Logfire",
    "langsmith": "LangSmith",
    "naive": "naive wrapper",
}


def pivot_tables(reps: list[dict[str, dict[str, Any]]], variants: list[str]) -> list[str]:
    """The README's tables: one row per contender, one column per workload."""
    shown = [v for v in variants if v in _NAMES]
    workloads = [
        w for w in WORKLOADS if any(w in s.get("bare", {}).get("workloads", {}) for s in reps)
    ]

    def label(workload: str) -> str:
        provider, mode, transport = workload.split(":")
        text = f"{provider} {'plain' if mode == 'nonstream' else 'stream'}, {transport}"
        chunks = bare_chunks(reps, workload)
        return f"{text} ({chunks} chunks)" if chunks else text

    def cell(variant: str, values: list[float], digits: int, unit: str) -> str:
        if not values:
            return "did not run"
        text = spread(values, digits, unit)
        if variant == "llmlog":
            head, _, rest = text.partition(" ")
            return f"**{head}** {rest}".strip()
        return text

    head = "| contender | " + " | ".join(label(w) for w in workloads) + " |"
    rule = "|---|" + "---|" * len(workloads)
    lines: list[str] = []
    sections = (
        ("Caller-thread CPU added per call, µs:", "cpu_med", 1.0, 0, ""),
        ("Total CPU added per call including background threads, µs:", "process_cpu", 1.0, 0, ""),
        ("Median wall time per call, ratio to bare (same repetition):", "ratio", 1.0, 2, "x"),
        ("p99 wall time added per call, ms:", "wall_p99", 0.001, 1, ""),
    )
    for title, key, scale, digits, unit in sections:
        lines += ["", title, "", head, rule]
        if key == "cpu_med":
            bare = [spread(bare_values(reps, w, "cpu_med"), 0) for w in workloads]
            lines.append("| bare (absolute) | " + " | ".join(bare) + " |")
        for variant in shown:
            cells = []
            for workload in workloads:
                if key == "ratio":
                    values = ratios(reps, variant, workload)
                else:
                    values = [v * scale for v in added(reps, variant, workload, key)]
                cells.append(cell(variant, values, digits, unit))
            lines.append(f"| {_NAMES[variant]} | " + " | ".join(cells) + " |")
    return lines


def _yes(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 repetitions, fewer calls")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--calls", type=int, default=600, help="non-stream calls per workload")
    parser.add_argument("--stream-calls", type=int, default=30)
    parser.add_argument("--chunks", type=int, default=500, help="chunks per mock stream")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--variants", default=",".join(MAIN_VARIANTS + PEERS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--tables-only", action="store_true", help="print the README tables of <out-dir>/peers.json"
    )
    args = parser.parse_args()
    if args.tables_only:
        saved = json.loads((args.out_dir / "peers.json").read_text())
        print("\n".join(pivot_tables(saved, ["bare", *MAIN_VARIANTS[1:], *PEERS])))
        return 0
    if args.quick:
        args.reps, args.calls, args.stream_calls, args.warmup = 2, 200, 8, 20
    args.variants = args.variants.split(",")
    args.workloads = args.workloads.split(",")
    if "bare" not in args.variants:
        args.variants.insert(0, "bare")
    reps = run_all(args, args.out_dir)
    (args.out_dir / "peers.json").write_text(json.dumps(reps, indent=1))
    lines = [
        f"Repetitions: {args.reps}; calls per process: {args.calls} non-stream, "
        f"{args.stream_calls} streams."
    ]
    lines += target_checks(reps, args.variants)
    lines += ["", "### Side by side (the tables of benchmarks/README.md)"]
    lines += pivot_tables(reps, args.variants)
    for workload in args.workloads:
        lines += table(reps, args.variants, workload)
    lines += ["", "Versions per contender:", ""]
    for variant in args.variants:
        versions = next(
            (s[variant].get("versions") for s in reps if s.get(variant, {}).get("versions")), None
        )
        written = [s.get(variant, {}).get("lines_written") for s in reps]
        lines.append(
            f"- {variant}: {json.dumps(versions)}; local lines written per process: {written}"
        )
    lines.append(f"- langsmith sink requests received: {_Sink.received}")
    (args.out_dir / "peers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
