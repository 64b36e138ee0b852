"""What a ``multiprocessing`` pool's workers pay for PII redaction (``pii``, the default).

A pool worker's call waits for its record (its SIGTERM is left at the default, see
README "LLMLOG_SIGTERM"), so a worker that had to start its own PII worker paid ~1-2 s on
its first call. Workers of the app's process group are now served by a fork of the
group's PII worker. Per start method, the app calling first (its record written: its
PII worker is up) or not
(the pool's first worker starts one), each run its own process group:

- the first call's wall time in each pool worker (median over runs, and the worst);
- the pool's whole ``map`` of 8 calls;
- the private memory (``Private_Dirty``) of the group's PII worker and of the forks
  serving the app and a forked child (``--memory``).

Run: ``PYTHONPATH=src python benchmarks/bench_pool_start.py [--runs 3]``; compare with
another tree by pointing ``PYTHONPATH`` at its ``src``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

APP = textwrap.dedent(
    """
    import json, multiprocessing, os, sys, time
    import httpx2, openai
    from llmlog._fake_openai import chat_completions

    def answer(request):
        reply = chat_completions(json.loads(request.content))
        return httpx2.Response(reply.status, json=dict(reply.body))

    def call(i):
        app = openai.OpenAI(
            api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
        )
        content = f"mail person{i}@example.com or call +1 415 555 {i:04d}"
        started = time.perf_counter()
        app.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
        return os.getpid(), time.perf_counter() - started

    if __name__ == "__main__":
        method, app_first = sys.argv[1], sys.argv[2] == "1"
        if app_first:  # and its record written: the app's PII worker is up
            import llmlog

            call(0)
            llmlog.flush(60)
        started = time.perf_counter()
        with multiprocessing.get_context(method).Pool(2) as pool:
            results = pool.map(call, range(1, 9), chunksize=1)
        whole = time.perf_counter() - started
        firsts = {}
        for pid, seconds in results:
            firsts.setdefault(pid, seconds)
        print(json.dumps({"firsts": sorted(firsts.values()), "map": whole}))
    """
)

MEMORY = textwrap.dedent(
    """
    import os, time
    from llmlog._config import Settings
    from llmlog._redact_worker import client
    from llmlog.redaction import Redact

    def private_mb(pid):
        sizes = {}
        for line in open(f"/proc/{pid}/smaps_rollup"):
            name, *value = line.split()
            if name in ("Rss:", "Pss:", "Private_Dirty:"):
                sizes[name[:-1]] = int(value[0]) // 1024
        return ", ".join(f"{name} {mb} MB" for name, mb in sizes.items())

    redact = Redact(Settings(redact="pii"))
    text = "call Mary Jones at +1 415 555 0100, mail mary@example.com. " * 20
    redact(None, "info", {"messages": [text]})
    server = client().worker_pid  # a fork of the group's worker serves the app too
    with open(f"/proc/{server}/stat") as stat:
        group_worker = int(stat.read().rsplit(")", 1)[1].split()[1])
    print(f"the group's worker: {private_mb(group_worker)}")
    print(f"the fork serving the app: {private_mb(server)}")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        for i in range(50):
            redact(None, "info", {"messages": [f"{i} " + text]})
        os.write(write_end, private_mb(client().worker_pid).encode())
        os._exit(0)
    os.waitpid(child, 0)
    print(f"the fork serving a forked child, after 50 records: {os.read(read_end, 200).decode()}")
    """
)


def run(script: Path, *args: str) -> dict[str, object]:
    log = Path(tempfile.mkdtemp()) / "llmlog.jsonl"
    env = {**os.environ, "LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(log)}
    src = Path(__import__("llmlog").__file__).resolve().parent
    env["PYTHONPATH"] = os.pathsep.join([str(src / "_bootstrap"), str(src.parent)])
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["records"] = len(log.read_text().splitlines())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "pool_app.py"
        script.write_text(APP)
        print(
            "| start method | app calls first | first call per pool worker (median / max, s) "
            "| whole map of 8 (median, s) | records |"
        )
        print("|---|---|---|---|---|")
        for method in ("fork", "spawn", "forkserver"):
            for app_first in ("1", "0"):
                results = [run(script, method, app_first) for _ in range(options.runs)]
                firsts = [s for r in results for s in r["firsts"]]  # type: ignore[attr-defined]
                maps = [float(r["map"]) for r in results]  # type: ignore[arg-type]
                records = {r["records"] for r in results}
                print(
                    f"| {method} | {'yes' if app_first == '1' else 'no'} | "
                    f"{statistics.median(firsts):.3f} / {max(firsts):.3f} | "
                    f"{statistics.median(maps):.2f} | {sorted(records)} |"
                )
    if options.memory:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY],
            capture_output=True,
            text=True,
            timeout=600,
            start_new_session=True,
            check=True,
        )
        print(done.stdout.strip())


if __name__ == "__main__":
    main()
