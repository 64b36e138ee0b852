#!/usr/bin/env bash
# Run the anthropic SDK's own test suite bare and with llmlog active; report tests
# that pass bare but fail with llmlog (each one is a transparency bug).
#
# Usage: benchmarks/run_sdk_suite_anthropic.sh <unpacked-sdist-dir> [pytest args...]
#
# Set-up, once (a separate virtualenv: the suite needs its own dev dependencies):
#   pip download --no-deps --no-binary :all: anthropic==<installed version>
#   tar xzf anthropic-<version>.tar.gz
#   python -m venv sdk-venv && . sdk-venv/bin/activate
#   pip install -e "anthropic-<version>[aws,vertex,aiohttp,webhooks]" respx pytest \
#       pytest-asyncio pytest-xdist time-machine dirty-equals importlib-metadata rich \
#       hypothesis inline-snapshot griffe "http-snapshot[httpx]==0.1.9" packaging \
#       opentelemetry-sdk wrapt structlog orjson genai-prices presidio-analyzer
#
# llmlog is taken from this checkout's src/ and activated by a tiny pytest plugin
# before any test module imports the SDK, in every xdist worker.
set -euo pipefail

sdist_dir=$(cd "${1:?usage: $0 <unpacked-sdist-dir> [pytest args...]}" && pwd)
shift
repo_src=$(cd "$(dirname "$0")/../src" && pwd)
work=$(mktemp -d)
echo "outputs (pytest logs, junit xml, llmlog records): $work"

cat >"$work/llmlog_sdk_suite_plugin.py" <<'PY'
"""Activate llmlog for the whole test session, one log file per process."""
import os

import llmlog

llmlog.instrument(
    output=os.path.join(os.environ["SUITE_LLMLOG_LOGS"], f"llmlog-{os.getpid()}.jsonl"),
)
PY
mkdir -p "$work/logs"

run() {
    local name=$1
    shift
    (cd "$sdist_dir" && python -m pytest -q -p no:cacheprovider --junitxml="$work/$name.xml" "$@" \
        >"$work/$name.out" 2>&1) || true
    tail -n 1 "$work/$name.out"
}

echo "bare:"
run bare "$@"
echo "with llmlog:"
PYTHONPATH="$work:$repo_src${PYTHONPATH:+:$PYTHONPATH}" SUITE_LLMLOG_LOGS="$work/logs" \
    run llmlog -p llmlog_sdk_suite_plugin "$@"

python - "$work" <<'PY'
import pathlib
import sys
import xml.etree.ElementTree as ET

work = pathlib.Path(sys.argv[1])


def outcomes(name):
    result = {}
    for case in ET.parse(work / f"{name}.xml").iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        result[test] = "failed" if bad else "skipped" if skipped else "passed"
    return result


bare, logged = outcomes("bare"), outcomes("llmlog")
passed_bare = {test for test, outcome in bare.items() if outcome == "passed"}
broken = sorted(test for test in passed_bare if logged.get(test) != "passed")
fixed = sorted(t for t, o in logged.items() if o == "passed" and bare.get(t) == "failed")
records = sum(
    sum(1 for _ in path.open()) for path in (work / "logs").glob("*.jsonl")
)
print(f"passed bare: {len(passed_bare)}  passed with llmlog: "
      f"{sum(1 for o in logged.values() if o == 'passed')}  records written: {records}")
print(f"pass bare, not with llmlog: {len(broken)}")
for test in broken:
    print(f"  {test}: {logged.get(test, 'missing')}")
if fixed:
    print(f"fail bare, pass with llmlog: {len(fixed)} (flaky?)")
sys.exit(1 if broken else 0)
PY
