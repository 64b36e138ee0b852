#!/usr/bin/env bash
# Every llmlog benchmark in one go; writes benchmarks/results/RESULTS.md.
#
#   benchmarks/run_all.sh            # full run, ~25 minutes on 2 cores
#   benchmarks/run_all.sh --quick    # a few minutes, for a smoke test of the numbers
#
# Peers run in their own virtualenvs (benchmarks/.venvs/<peer>, created here by
# peers/setup.sh); the project's own .venv is only read. Set PYTHON to the
# interpreter that has llmlog's dependencies (default: .venv/bin/python).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"
quick=()
if [ "${1:-}" = "--quick" ]; then quick=(--quick); fi
results="$here/results"
mkdir -p "$results"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
unset LLMLOG_ENABLED

started=$(date +%s)
code="commit $(git -C "$root" rev-parse --short HEAD), $(git -C "$root" status --short src | wc -l) file(s) under src/ uncommitted at the start"
"$here/peers/setup.sh"
"$python" "$here/bench_peers.py" "${quick[@]}"
"$python" "$here/bench_load.py" "${quick[@]}"
"$python" "$here/bench_import.py" $([ ${#quick[@]} -gt 0 ] && echo --runs=5)
"$python" "$here/bench_startup.py" --runs "$([ ${#quick[@]} -gt 0 ] && echo 50 || echo 300)" \
    > "$results/startup.txt" 2>&1

{
    echo "# llmlog benchmark results"
    echo
    echo "Run: $(date -u +%Y-%m-%dT%H:%MZ), $(( ($(date +%s) - started) / 60 )) min${quick:+ (--quick)}."
    echo "Code: $code."
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
        "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $("$python" -V)."
    echo
    echo "## Caller overhead beside the peers"
    echo
    cat "$results/peers.md"
    echo
    echo "## Under load"
    cat "$results/load.md"
    echo
    echo "## Start-up"
    cat "$results/import.md"
    echo
    echo '```'
    cat "$results/startup.txt"
    echo '```'
} > "$results/RESULTS.md"
echo "wrote $results/RESULTS.md"
