"""Start-up cost paid by an app that uses llmlog: ``import llmlog`` and ``instrument()``.

Each sample is a fresh interpreter (nothing cached in ``sys.modules``), timed
from inside with ``perf_counter``. The SDKs are imported first, as in an app
that instruments after its own imports, so their cost is not counted.
(The ``.pth`` line's cost when disabled is ``bench_startup.py``'s.)

    python benchmarks/bench_import.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _stats import spread  # noqa: E402

PROBE = """
import json, sys, time
import openai, anthropic
t0 = time.perf_counter()
import llmlog
t1 = time.perf_counter()
llmlog.instrument(output=sys.argv[1], redact="pii")
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "instrument_ms": (t2 - t1) * 1e3}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    env.pop("LLMLOG_ENABLED", None)
    samples = []
    with tempfile.TemporaryDirectory() as logs:
        for _ in range(args.runs):
            done = subprocess.run(
                [sys.executable, "-c", PROBE, f"{logs}/llmlog.jsonl"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    imports = [s["import_ms"] for s in samples]
    instruments = [s["instrument_ms"] for s in samples]
    verdict = "met" if sorted(imports)[len(imports) // 2] < 50 else "**missed**"
    lines = [
        "",
        f"### Start-up ({args.runs} fresh interpreters, ms, median (min to max))",
        "",
        "| step | ms |",
        "|---|---|",
        f"| `import llmlog` (SDKs already imported) | {spread(imports, 2)} |",
        f'| `llmlog.instrument(redact="pii")` (patches both SDKs) | {spread(instruments, 2)} |',
        "",
        f"Target `import llmlog` < 50 ms: {verdict}.",
    ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "import.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
