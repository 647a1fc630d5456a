#!/usr/bin/env bash
# Runs every fuzzer for a bounded time, each on a copy of its seed corpus
# tests/fuzz/corpus/<name>/ (so the repository is never modified), and prints
# one line per target. libFuzzer's own output goes to BUILD_DIR/fuzz-run/<name>/log;
# a target that crashes, leaks, times out or runs out of memory has its log's
# tail printed, and the script exits 1 after running the rest.
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS_PER_TARGET
set -uo pipefail

build=$(cd "$1" && pwd)
seconds=$2
corpora=$(cd "$(dirname "$0")/corpus" && pwd)
failed=()
total_executions=0
start=$SECONDS

# A libFuzzer statistic from -print_final_stats=1, e.g. number_of_executed_units.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

for seeds in "$corpora"/*/; do
  name=$(basename "$seeds")
  work="$build/fuzz-run/$name"
  rm -rf "$work" && mkdir -p "$work/corpus" && cp "$seeds"* "$work/corpus/"
  started=$SECONDS
  # -timeout: an input that takes 10 s is a hang, a bug like a crash.
  "$build/tests/fuzz/${name}_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
  status=$?
  executions=$(stat number_of_executed_units "$work/log")
  total_executions=$((total_executions + ${executions:-0}))
  summary=$(printf '%-15s %9s executions in %3ss, corpus %3d -> %4d inputs' "${name}_fuzzer" \
    "${executions:-?}" "$((SECONDS - started))" "$(ls "$seeds" | wc -l)" \
    "$(ls "$work/corpus" | wc -l)")
  if [ "$status" -eq 0 ]; then
    echo "fuzz ok      $summary"
  else
    echo "fuzz FAILED  $summary (exit $status); end of $work/log:"
    tail -n 60 "$work/log" | sed 's/^/    /'
    failed+=("$name")
  fi
done

echo "fuzz: $total_executions executions in $((SECONDS - start)) s of wall time"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs: $build/fuzz-run/<name>/{crash,leak,timeout,oom}-*)"
  exit 1
fi
