#!/usr/bin/env bash
# Run the openai SDK's own test suite twice, bare and with llmlog instrumented before the
# tests import the SDK, and report the difference. A test that passes bare and fails with
# llmlog is a transparency bug in llmlog, whatever the test looks like.
#
#   bash benchmarks/run_sdk_suite_openai.sh [WORKDIR] [extra pytest args...]
#   SUITE_TESTS="tests/lib tests/test_client.py" bash benchmarks/run_sdk_suite_openai.sh ...
#
# WORKDIR (default: a new temporary directory) gets a throwaway virtualenv with the SDK at
# the version installed in the project's environment, its test dependencies, and llmlog's
# runtime dependencies; llmlog itself comes from this checkout's src/. Nothing is installed
# into the project's environment. tests/api_resources is left out: it needs the Prism mock
# server (an npm download at test time), which is not reachable offline.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
shift || true
python="${PYTHON:-$repo/.venv/bin/python}"
version="$("$repo/.venv/bin/python" -c 'import openai; print(openai.__version__)' 2>/dev/null \
  || "$python" -c 'import openai; print(openai.__version__)')"

mkdir -p "$work"
cd "$work"
if [ ! -d "openai-$version" ]; then
  "$python" -m pip download --quiet --no-deps --no-binary :all: "openai==$version" -d .
  tar xzf "openai-$version.tar.gz"
fi
if [ ! -x venv/bin/python ]; then
  "$python" -m venv venv
  venv/bin/pip install --quiet "openai[aiohttp,realtime]==$version" \
    pytest pytest-asyncio pytest-xdist inline-snapshot rich numpy trio griffe cryptography \
    dirty-equals time-machine nest-asyncio pytest-timeout \
    "wrapt>=2.4" "structlog>=24.1" "orjson>=3.9" "genai-prices>=0.2.3"
fi

# A pytest plugin loaded with -p runs before any conftest imports openai (and in every
# xdist worker): it turns llmlog on exactly as an app would.
mkdir -p plugin
cat > plugin/llmlog_on.py <<'EOF'
import os

import llmlog

llmlog.instrument(
    output=os.environ["SUITE_LLMLOG_OUTPUT"].replace("{pid}", str(os.getpid())),
    redact="secrets",
)
EOF

run() {  # run NAME [pytest args...] -> results/NAME.txt (one "nodeid outcome" per line)
  local name="$1"
  shift
  mkdir -p results
  # shellcheck disable=SC2086  # SUITE_TESTS is a list of paths
  (cd "openai-$version" && "$work/venv/bin/python" -m pytest ${SUITE_TESTS:-tests} -q -p no:cacheprovider \
      --ignore=tests/api_resources -n 2 -o addopts="" -rA --timeout=120 "$@" \
      >"$work/results/$name.log" 2>&1) || true
  # "<node id><TAB><outcome>"; node ids may hold spaces, failures end in " - <message>"
  grep -E '^(PASSED|FAILED|ERROR|XFAIL|XPASS) [^ ]+::' "results/$name.log" \
    | sed -E 's/^([A-Z]+) (.*)$/\2\t\1/; s/ - [^\t]*\t/\t/' | sort -u >"results/$name.txt"
}

run bare "$@"
rm -f "$work"/records-*.jsonl  # this run's records only (the count below reads them all)
SUITE_LLMLOG_OUTPUT="$work/records-{pid}.jsonl" PYTHONPATH="$repo/src:$work/plugin" \
  run llmlog -p llmlog_on "$@"

passed_bare="$(awk -F'\t' '$2 == "PASSED" {print $1}' results/bare.txt | sort)"
passed_llmlog="$(awk -F'\t' '$2 == "PASSED" {print $1}' results/llmlog.txt | sort)"
echo "openai $version test suite: ${SUITE_TESTS:-tests} (without tests/api_resources):"
echo "  bare:   $(grep -c -P '\tPASSED$' results/bare.txt) passed, $(grep -c -P '\t(FAILED|ERROR)$' results/bare.txt) failed/errors"
echo "  llmlog: $(grep -c -P '\tPASSED$' results/llmlog.txt) passed, $(grep -c -P '\t(FAILED|ERROR)$' results/llmlog.txt) failed/errors"
echo "  records written by llmlog: $(cat "$work"/records-*.jsonl 2>/dev/null | wc -l)"
echo "  llmlog internal errors reported: $(grep -c 'llmlog: internal error' results/llmlog.log || true)"
regressions="$(comm -23 <(echo "$passed_bare") <(echo "$passed_llmlog") | sed '/^$/d')"
echo "  pass bare, not with llmlog: $(echo -n "$regressions" | grep -c . || true)"
if [ -n "$regressions" ]; then
  echo "$regressions" | sed 's/^/    /'
  exit 1
fi
