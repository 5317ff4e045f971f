#!/usr/bin/env bash
# Instructions executed by one cold detection pass (callgrind), for comparing two trees on a shared machine.
#   bench/detect_cpu.sh TREE [NAME]      LIMIT=150 by default; prints "NAME instructions=N"
# e.g. git worktree add /tmp/base c1d06d1 && bench/detect_cpu.sh /tmp/base base && bench/detect_cpu.sh . main
# Needs valgrind (apt install valgrind). Takes about 4 minutes per tree at LIMIT=150.
set -euo pipefail
tree=$(cd "$1" && pwd); name=${2:-$(basename "$tree")}
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d); flag="$out/$name"
LIMIT=${LIMIT:-150} valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/$name.cg" \
  "$repo/.venv/bin/python" "$repo/bench/detect_pass.py" "$tree" "$flag" >"$out/$name.log" 2>&1 &
vg=$!
until [ -f "$flag.ready" ]; do
  sleep 1
  kill -0 "$vg" 2>/dev/null || { echo "the pass died; see $out/$name.log" >&2; exit 1; }
done
callgrind_control -i on "$(cat "$flag.ready")" >/dev/null 2>&1
touch "$flag"
until [ -f "$flag.done" ]; do sleep 1; done
callgrind_control -i off "$(cat "$flag.ready")" >/dev/null 2>&1
rm -f "$flag.done"
wait "$vg"
echo "$name instructions=$(awk '/^totals:/ {print $2}' "$out/$name.cg")"
rm -rf "$out"
