"""llmlog under load: what the app sees, what the writer sustains, what memory it takes.

Three parts (each can be run alone with ``--part``):

``stages``      CPU per record of each step of the writer's chain (extract,
                cost, redaction, truncation, rendering, the file write), from
                real captures of real SDK calls.
``throughput``  records/s the writer drains when nothing else runs, per
                redaction level; then a fixed offered rate (5,000/s with
                ``secrets``, 500/s with ``pii``) held for a while with the
                default queue size, counting dropped and written records.
``latency``     the app's own p50/p99 call latency at 10, 50 and 200 calls/s
                (open-loop schedule, loopback fake provider, ~4 KB prompts with
                PII), bare vs ``redact="pii"``, each run its own process, the
                order alternating; and the peak RSS of the app and its children
                (the redaction worker).

    python benchmarks/bench_load.py [--quick] [--part stages,throughput,latency]
                                    [--texts new|repeat]

Redaction remembers the texts it has searched lately (a resent system prompt or
conversation is not searched again). ``--texts new`` (the default) measures the
worst case: the replayed captures are searched in full every time, and the
latency app sends a new user message on each call (its system prompt repeats,
as in real apps, and so does the fake provider's answer). ``--texts repeat`` lets
replayed texts be remembered.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _workload  # noqa: E402
from _stats import median, percentile, spread  # noqa: E402

RATES = (10, 50, 200)
LOAD_PROMPT = " ".join([_workload.USER] * 4)
"""About 4 KB with an e-mail and a phone number per KB: the redaction tier has work to do."""


# captures ---------------------------------------------------------------------


def real_captures(provider: str, stream: bool, count: int) -> list[Any]:
    """Captures of real SDK calls, taken where the pipeline would have received them."""
    import llmlog
    from llmlog import _pipeline

    taken: list[Any] = []
    with tempfile.TemporaryDirectory() as out:
        llmlog.instrument(output=f"{out}/unused.jsonl", redact="off")
        real_submit = _pipeline.submit
        _pipeline.submit = taken.append  # type: ignore[assignment]
        try:
            client = _workload.make_client(provider, "mock", None, _workload.mock_handler(90, 500))
            for _ in range(count):
                _workload.one_call(client, provider, stream)
        finally:
            _pipeline.submit = real_submit  # type: ignore[assignment]
            llmlog.uninstrument()
    return taken


# stages -----------------------------------------------------------------------


def stage_costs(redact: str, captures: list[Any], out_dir: Path) -> dict[str, float]:
    """Median thread-CPU µs per record of each processor and of the sink write."""
    from llmlog._chain import build_processors
    from llmlog._config import Settings
    from llmlog.sinks import FileSink

    settings = Settings.from_env({}, output=str(out_dir / f"stages-{redact}.jsonl"), redact=redact)
    chain = build_processors(settings)
    sink = FileSink(settings.output)
    names = [getattr(p, "__name__", type(p).__name__) for p in chain] + ["sink.write"]
    costs: dict[str, list[int]] = {name: [] for name in names}
    walls: list[int] = []
    for index, cap in enumerate(captures * 3):
        event: Any = {"_capture": cap, "event": "llm.call"}
        wall = time.perf_counter_ns()
        for name, processor in zip(names, chain, strict=False):
            start = time.thread_time_ns()
            event = processor(None, "info", event)
            costs[name].append(time.thread_time_ns() - start)
        start = time.thread_time_ns()
        sink.write(event)
        costs["sink.write"].append(time.thread_time_ns() - start)
        if index >= len(captures):  # the first pass warms caches and the redaction worker
            walls.append(time.perf_counter_ns() - wall)
    sink.close()
    result = {name: median(values[len(captures) :]) / 1e3 for name, values in costs.items()}
    result["total CPU"] = sum(result.values())
    result["wall"] = median(walls) / 1e3
    return result


def part_stages(args: argparse.Namespace, out_dir: Path) -> list[str]:
    lines = ["", "### Writer CPU per record, by stage (µs, median)", ""]
    columns: dict[str, dict[str, float]] = {}
    for provider in ("openai", "anthropic"):
        for stream in (False, True):
            captures = real_captures(provider, stream, 60 if not stream else 8)
            for redact in ("secrets", "pii"):
                label = f"{provider} {'stream' if stream else 'plain'}, {redact}"
                columns[label] = stage_costs(redact, captures, out_dir)
    names = list(next(iter(columns.values())))
    lines.append("| stage | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for name in names:
        cells = [f"{columns[label].get(name, float('nan')):,.1f}" for label in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Stream captures hold 500 chunks (mock transport). `pii` sends text to the redaction "
        "worker process: its CPU is not in this thread's time, its latency is in `wall`."
    )
    return lines


# throughput -------------------------------------------------------------------


def drain_rate(redact: str, captures: list[Any], count: int, out_dir: Path) -> float:
    """Records/s the writer thread drains with the caller idle (waiting in flush)."""
    from llmlog._config import Settings
    from llmlog._pipeline import Pipeline

    output = out_dir / f"drain-{redact}.jsonl"
    settings = Settings.from_env(
        {}, output=str(output), redact=redact, queue_size=count + len(captures) + 10
    )
    pipeline = Pipeline(settings)
    for cap in captures:  # warm-up: engine start, imports, first file open
        pipeline.submit(copy.copy(cap))
    pipeline.flush(300)
    batch = [copy.copy(captures[i % len(captures)]) for i in range(count)]
    start = time.perf_counter()
    for cap in batch:
        pipeline.submit(cap)
    pipeline.flush(600)
    rate = count / (time.perf_counter() - start)
    pipeline.close(5)
    return rate


def offered_rate(
    redact: str, captures: list[Any], rate: int, seconds: float, out_dir: Path
) -> dict[str, Any]:
    """Hold ``rate`` records/s for ``seconds`` with the default queue; count what was lost."""
    from llmlog._config import Settings
    from llmlog._pipeline import Pipeline

    output = out_dir / f"offered-{redact}-{rate}-{time.time_ns()}.jsonl"
    settings = Settings.from_env({}, output=str(output), redact=redact)
    pipeline = Pipeline(settings)
    for cap in captures:
        pipeline.submit(copy.copy(cap))
    pipeline.flush(300)
    warm_up = len(captures)  # written before the offer (deleting a live log would lose lines)
    total = int(rate * seconds)
    pool = [copy.copy(captures[i % len(captures)]) for i in range(total)]
    start = time.perf_counter()
    max_depth = 0
    for index, cap in enumerate(pool):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
            max_depth = max(max_depth, _depth(pipeline))
        pipeline.submit(cap)
    sent_for = time.perf_counter() - start
    dropped_before_flush = pipeline._dropped
    pipeline.flush(600)
    drained_after = time.perf_counter() - start - sent_for
    pipeline.close(5)
    # Past LLMLOG_MAX_BYTES the file rotates: count the rotated pieces too.
    lines = [
        line
        for path in out_dir.glob(f"{output.stem}*.jsonl")
        for line in path.read_bytes().splitlines()
    ]
    calls = sum(1 for line in lines if b'"llm.call"' in line)
    dropped = sum(json.loads(line).get("count", 0) for line in lines if b"llmlog.dropped" in line)
    return {
        "offered_per_s": rate,
        "achieved_per_s": total / sent_for,
        "written": calls - warm_up,
        "expected": total,
        "dropped": max(dropped, dropped_before_flush),
        "max_queue_depth": max_depth,
        "drain_after_s": drained_after,
    }


def _depth(pipeline: Any) -> int:
    """Records waiting for the writer (the queue's type is the pipeline's business)."""
    queue = pipeline._queue
    return queue.qsize() if hasattr(queue, "qsize") else len(queue)


def part_throughput(args: argparse.Namespace, out_dir: Path) -> list[str]:
    captures = real_captures("openai", False, 40) + real_captures("anthropic", False, 40)
    lines = ["", "### Pipeline throughput (non-stream records, openai and anthropic mixed)", ""]
    lines += [
        "| level | drain rate, records/s (runs) | offered | written / expected | dropped "
        "| max queue depth | drain after the offer, s |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for redact, target in (("secrets", 5000), ("pii", 500)):
        count = args.drain_records if redact == "secrets" else args.drain_records // 5
        rates = [drain_rate(redact, captures, count, out_dir) for _ in range(args.drain_runs)]
        offered = offered_rate(redact, captures, target, args.offer_seconds, out_dir)
        lines.append(
            f"| `{redact}` | {spread(rates, 0)} | {target}/s for {args.offer_seconds:.0f} s "
            f"(achieved {offered['achieved_per_s']:,.0f}/s) | {offered['written']:,} / "
            f"{offered['expected']:,} | {offered['dropped']:,} | {offered['max_queue_depth']:,} "
            f"| {offered['drain_after_s']:.2f} |"
        )
    return lines


# latency under load -------------------------------------------------------------


def app_run(rate: int, seconds: float, url: str, variant: str, out: Path, new_texts: bool) -> None:
    """The app (its own process): calls at a fixed rate, records each call's latency."""
    with tempfile.TemporaryDirectory() as logs:
        flush: Callable[[], Any] = lambda: None  # noqa: E731
        if variant != "bare":
            import llmlog

            llmlog.instrument(output=f"{logs}/llmlog.jsonl", redact=variant.partition("-")[2])
            flush = llmlog.flush
        client = _workload.make_client("openai", "loopback", url, None)
        request = _workload.openai_request(False)
        request["messages"] = [
            {"role": "system", "content": _workload.SYSTEM},
            {"role": "user", "content": LOAD_PROMPT},
        ]
        for _ in range(20):
            client.chat.completions.create(**request)
        flush()
        time.sleep(1.0)  # let a redaction worker finish warming up
        latencies = []
        total = int(rate * seconds)
        start = time.perf_counter()
        for index in range(total):
            if new_texts:  # a new user message each call, the system prompt repeated
                request["messages"][1]["content"] = f"[{index}] {LOAD_PROMPT}"
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter_ns()
            client.chat.completions.create(**request)
            latencies.append(time.perf_counter_ns() - t0)
        behind = time.perf_counter() - start - total / rate
        flushed = flush()
        written = 0
        for path in Path(logs).glob("*.jsonl"):
            written += path.read_bytes().count(b'"llm.call"')
    result = {
        "latency_ns": latencies,
        "behind_schedule_s": behind,
        "flushed": flushed,
        "written": written,
        "rss_kb": _peak_rss_kb(os.getpid()),
        "children_rss_kb": sum(_peak_rss_kb(pid) for pid in _children()),
    }
    out.write_text(json.dumps(result))


def _peak_rss_kb(pid: int | str) -> int:
    """VmHWM: unlike ``ru_maxrss``, it is not inherited from the parent across ``exec``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children() -> list[str]:
    """Live children of every thread (the writer thread starts the redaction worker)."""
    pids: list[str] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            pids += (task / "children").read_text().split()
    return pids


def part_latency(args: argparse.Namespace, out_dir: Path) -> list[str]:
    from llmlog import fake_provider

    # The stdlib server sends headers and body in two writes; with Nagle on, the
    # client's delayed ACK adds ~40 ms to every call. Measure the logging, not that.
    fake_provider._Handler.disable_nagle_algorithm = True
    variants = ("bare", "llmlog-pii")
    results: dict[tuple[int, str], list[dict[str, Any]]] = {}
    with fake_provider.start_server() as fake:
        for rep in range(args.latency_reps):
            for rate in RATES:
                order = variants if (rep + rate) % 2 == 0 else variants[::-1]
                for variant in order:
                    raw = out_dir / "raw" / f"load-{rate}-{variant}-rep{rep}.json"
                    raw.parent.mkdir(parents=True, exist_ok=True)
                    command = [
                        sys.executable, __file__, "--app", variant, "--rate", str(rate),
                        "--seconds", str(args.seconds), "--url", fake.url, "--raw", str(raw),
                        "--texts", args.texts,
                    ]  # fmt: skip
                    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
                    subprocess.run(command, env=env, check=True, timeout=args.seconds * 3 + 120)
                    summary = json.loads(raw.read_text())
                    raw.write_text(
                        json.dumps({k: v for k, v in summary.items() if k != "latency_ns"})
                    )
                    results.setdefault((rate, variant), []).append(summary)
                    print(f"load rep {rep + 1} {rate}/s {variant}: done", flush=True)
    lines = [
        "",
        f"### App latency under load ({args.seconds:.0f} s per run, "
        f"{args.latency_reps} run(s) each)",
        "",
    ]
    lines.append(
        "| calls/s | bare p50 / p99, ms | `pii` p50 / p99, ms | p99 added, ms "
        "| records written | peak RSS bare / `pii` (+ worker), MB |"
    )
    lines.append("|---|---|---|---|---|---|")
    for rate in RATES:
        bare, pii = results[(rate, "bare")], results[(rate, "llmlog-pii")]
        p50_b = [percentile(r["latency_ns"], 50) / 1e6 for r in bare]
        p99_b = [percentile(r["latency_ns"], 99) / 1e6 for r in bare]
        p50_p = [percentile(r["latency_ns"], 50) / 1e6 for r in pii]
        p99_p = [percentile(r["latency_ns"], 99) / 1e6 for r in pii]
        p99_added = [p - b for p, b in zip(p99_p, p99_b, strict=False)]
        written = sum(r["written"] for r in pii)
        expected = sum(len(r["latency_ns"]) + 20 for r in pii)
        rss_b = median([r["rss_kb"] / 1024 for r in bare])
        rss_p = median([r["rss_kb"] / 1024 for r in pii])
        rss_w = median([r["children_rss_kb"] / 1024 for r in pii])
        lines.append(
            f"| {rate} | {spread(p50_b, 2)} / {spread(p99_b, 2)} | {spread(p50_p, 2)} / "
            f"{spread(p99_p, 2)} | {spread(p99_added, 2)} | {written:,} / {expected:,} | "
            f"{rss_b:.0f} / {rss_p:.0f} (+{rss_w:.0f}) |"
        )
    target = median([p - b for p, b in zip(
        [percentile(r["latency_ns"], 99) / 1e6 for r in results[(50, "llmlog-pii")]],
        [percentile(r["latency_ns"], 99) / 1e6 for r in results[(50, "bare")]],
        strict=False,
    )])  # fmt: skip
    verdict = "met" if target <= 1.0 else "**missed**"
    lines += [
        "",
        f"Target: at 50 calls/s with `pii`, app p99 within 1 ms of bare: "
        f"{target:+.2f} ms, {verdict}.",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", default="stages,throughput,latency")
    parser.add_argument("--seconds", type=float, default=60.0, help="per latency run")
    parser.add_argument("--latency-reps", type=int, default=2)
    parser.add_argument("--drain-records", type=int, default=10_000)
    parser.add_argument("--drain-runs", type=int, default=3)
    parser.add_argument("--offer-seconds", type=float, default=10.0)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--texts",
        choices=("new", "repeat"),
        default="new",
        help="new: every record's texts are searched by redaction (the worst case; the latency "
        "app sends a new user message each call); repeat: texts seen before are remembered",
    )
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app:
        app_run(args.rate, args.seconds, args.url, args.app, args.raw, args.texts == "new")
        return 0
    if args.texts == "new":  # captures are replayed: without this, redaction would remember them
        from llmlog import _redact_memo

        _redact_memo.MEMO_CHARS = 0
    if args.quick:
        args.seconds, args.drain_records, args.drain_runs, args.offer_seconds = 10.0, 4000, 2, 4.0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    parts = {"stages": part_stages, "throughput": part_throughput, "latency": part_latency}
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="llmlog-load-") as scratch:
        for name in args.part.split(","):
            lines += parts[name](args, Path(scratch))
            print("\n".join(lines), flush=True)
    (args.out_dir / "load.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
