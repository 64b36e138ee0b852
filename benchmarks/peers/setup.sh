#!/usr/bin/env bash
# Create one virtualenv per peer under benchmarks/.venvs/<peer>, never touching the
# project's own .venv. Idempotent: a venv whose requirements file is unchanged is kept.
# Usage: benchmarks/peers/setup.sh [peer ...]   (default: every *.txt but common.txt)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venvs="$here/../.venvs"
python="${PYTHON:-python3.11}"
mkdir -p "$venvs"
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
    for req in "$here"/*.txt; do
        name="$(basename "$req" .txt)"
        [ "$name" = common ] || peers+=("$name")
    done
fi
for peer in "${peers[@]}"; do
    req="$here/$peer.txt"
    venv="$venvs/$peer"
    stamp="$venv/.requirements.sha256"
    want="$(cat "$here/common.txt" "$req" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "peer $peer: up to date"
        continue
    fi
    echo "peer $peer: creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    (cd "$here" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req")
    "$venv/bin/pip" freeze --disable-pip-version-check > "$venv/freeze.txt"
    echo "$want" > "$stamp"
done
