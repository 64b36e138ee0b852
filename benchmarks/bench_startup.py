"""Start-up cost of the ``llmlog.pth`` line (the ``LLMLOG_ENABLED`` switch).

The line runs in every interpreter of an environment where llmlog is
installed, so when the switch is off it must cost (next to) nothing and import
nothing of llmlog. Three measurements:

1. the line itself, executed in-process with the switch off (``timeit``);
2. ``python -c pass`` in two otherwise identical throwaway venvs, with and
   without the ``.pth`` file, runs interleaved to cancel drift;
3. for scale, ``python -c pass`` with ``LLMLOG_ENABLED=1`` in the current
   environment (only if llmlog is installed there).

Run: ``python benchmarks/bench_startup.py [--runs 300]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = (ROOT / "llmlog.pth").read_text().strip()


def line_cost_us(number: int = 20_000) -> tuple[float, float]:
    """Microseconds per start with the switch off: the line alone, and site's whole
    handling of the file (open, read, exec) as ``site.addpackage`` does it at start-up."""
    os.environ.pop("LLMLOG_ENABLED", None)
    code = compile(LINE, "llmlog.pth", "exec")
    line = min(timeit.repeat(lambda: exec(code, {}), number=number, repeat=5)) / number
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "llmlog.pth", tmp)
        whole = min(
            timeit.repeat(
                lambda: site.addpackage(tmp, "llmlog.pth", set()), number=number, repeat=5
            )
        )
    return line * 1e6, whole / number * 1e6


def make_venv(where: Path, with_pth: bool) -> str:
    venv.EnvBuilder(with_pip=False).create(where)
    python = str(where / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if with_pth:
        shutil.copy(ROOT / "llmlog.pth", Path(purelib) / "llmlog.pth")
    return python


def start_ms(python: str, env: dict[str, str]) -> float:
    begin = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env, check=True)
    return (time.perf_counter() - begin) * 1000


def compare(runs: int) -> tuple[list[float], list[float], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLOG_", "PYTHON"))}
    with tempfile.TemporaryDirectory() as tmp:
        with_pth = make_venv(Path(tmp) / "with", with_pth=True)
        without = make_venv(Path(tmp) / "without", with_pth=False)
        for python in (with_pth, without):  # warm the OS caches
            start_ms(python, env)
        a: list[float] = []
        b: list[float] = []
        for i in range(runs):  # ABBA order, so drift hits both variants alike
            pair = [(with_pth, a), (without, b)]
            for python, times in pair if i % 2 else pair[::-1]:
                times.append(start_ms(python, env))
        imports = subprocess.run(
            [with_pth, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True
        ).stderr
    loaded = sorted({line.split("|")[-1].strip() for line in imports.splitlines()})
    llmlog_modules = ", ".join(m for m in loaded if m.startswith("llmlog")) or "none"
    return a, b, llmlog_modules


def enabled_ms(runs: int) -> float | None:
    dirs = [*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_path("purelib")]
    if not any((Path(d) / "llmlog.pth").exists() for d in dirs):
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    env.update(LLMLOG_ENABLED="1", LLMLOG_REDACT="secrets", LLMLOG_OUTPUT=os.devnull)
    off = {k: v for k, v in env.items() if k != "LLMLOG_ENABLED"}
    on_times = [start_ms(sys.executable, env) for _ in range(runs)]
    off_times = [start_ms(sys.executable, off) for _ in range(runs)]
    return statistics.median(on_times) - statistics.median(off_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="interpreter starts per variant")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}, {args.runs} runs per variant\n")
    line, whole = line_cost_us()
    print(
        f"1. switch off, per start:       the line {line:.2f} us; "
        f"site reading + running it {whole:.1f} us"
    )
    a, b, modules = compare(args.runs)
    delta = statistics.median(a) - statistics.median(b)
    print(
        f"2. python -c pass, median:      with .pth {statistics.median(a):.2f} ms, "
        f"without {statistics.median(b):.2f} ms, difference {delta:+.2f} ms "
        f"(fastest: {min(a):.2f} vs {min(b):.2f} ms; stdev {statistics.stdev(b):.2f} ms)"
    )
    print(f"   llmlog modules imported at start with the switch off: {modules}")
    cost = enabled_ms(max(20, args.runs // 10))
    if cost is not None:
        print(f"3. LLMLOG_ENABLED=1 (activation, redact=secrets): +{cost:.0f} ms per start")


if __name__ == "__main__":
    main()
