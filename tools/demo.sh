#!/usr/bin/env bash
# The README's main job: a live pipeline against a local mock analyzer fleet.
#
# Installs what is missing, builds, starts a mock fleet shaped like the
# incident's (4 static, 3 dynamic, 2 performance, 2 ai replicas and a
# generator, on the fleet's usual ports; analyses take seconds; static
# replica :2001 freezes (hangs and stops answering pings), static replica
# :2051 blocks its whole event loop for 45 s in its first analysis (as the
# real service does running npm synchronously) and dynamic replica :2002
# drops its connections mid-analysis), starts sluiced on its built-in
# defaults (only the data directory is a fresh temporary one), submits the
# incident's pipeline (1 model x 3 templates) with the quick scan profile,
# escalating to the deep one (all 4 analyzers) for each app whose quick
# scan failed or found issues (README, "Scan profiles"), shows live
# progress, prints the final per-task table, pipeline status and what the
# liveness rule made of the two quiet replicas (suspect then alive: not
# dead; suspect, then ended by the quick profile's attempt timeout: retried
# elsewhere), then one structured timeout error with its suggestion and the
# partial result of a second, tiny pipeline whose attempt timeout is 1 s
# (README, "Timeouts"), and stops everything it
# started, by pid.
#
# Exit code: sluicectl's (0 completed, 2 partial_success, 3 failed,
# 4 cancelled), or 1 when something could not start.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash tools/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target sluiced sluicectl sluice-mock-analyzer >/dev/null

work=$(mktemp -d /tmp/sluice-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (bounded) until file $1 holds a line matching $2.
wait_for_line() {
  for _ in $(seq 1 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# The fleet's usual ports, so sluiced needs no service settings.
replicas=()
add() { replicas+=(--replica "$1:127.0.0.1:$2${3:+:$3}"); }
# The troublemakers sit first in each list, where the first tasks land.
# The static replicas have the quick profile's tools (the real service's).
st=tools=bandit,pylint,vulture,npm-audit,detect-secrets,ruff,eslint,semgrep,safety
add static-analyzer 2001 fault=freeze:$st    # hangs; stops answering pings
add static-analyzer 2051 fault=block=45000/scanning_js@1:$st # event loop blocked 45 s, then fine
add static-analyzer 2052 $st; add static-analyzer 2056 $st
add dynamic-analyzer 2002 fault=disconnect   # drops the connection mid-analysis
add dynamic-analyzer 2053; add dynamic-analyzer 2057
add performance-tester 2003; add performance-tester 2054
add ai-analyzer 2004; add ai-analyzer 2055
add generator 2005

build/tools/sluice-mock-analyzer "${replicas[@]}" --latency 2000-6000 --progress 700 \
  --gateway ws://127.0.0.1:8765 >"$work/mock.log" 2>&1 &
pids+=($!)
wait_for_line "$work/mock.log" '^ready'
echo "demo: mock fleet up (pid ${pids[0]}): 11 analyzer replicas + generator;"
echo "      static :2001 freezes: no pong, ever (suspect after a missed pong; the quick"
echo "        profile's 60 s attempt timeout ends its attempt, retried on another replica),"
echo "      static :2051 blocks its event loop for 45 s mid-analysis (suspect, not dead:"
echo "        the analysis completes there, in one attempt),"
echo "      dynamic :2002 drops connections mid-analysis (retried on another replica)"

build/tools/sluiced --set sluice/data_dir="$work/data" >"$work/sluiced.log" 2>&1 &
pids+=($!)
wait_for_line "$work/sluiced.log" 'sluiced: ready'
echo "demo: sluiced up (pid ${pids[1]}), defaults: API tcp://127.0.0.1:5570, PUB :5571, progress ws://127.0.0.1:8765"

id=$(build/tools/sluicectl submit --file tests/data/requests/incident.json --profile quick \
  --then deep)
echo "demo: submitted the incident's pipeline, quick scan then deep where it found issues: $id"
status=0
build/tools/sluicectl watch "$id" --timeout 600000 || status=$?
echo
build/tools/sluicectl get "$id" || true
echo
build/tools/sluicectl endpoints || true
echo
echo "demo: liveness (sluiced's log): a missed pong makes a replica suspect; a sign of"
echo "      life clears it (:2051, blocked); silence past the grace (or, first, the"
echo "      attempt's timeout: the quick profile's 60 s) ends the attempt (:2001)"
grep -E "suspect: no pong|alive: |no sign of life" "$work/sluiced.log" | sed 's/^/  /' || true
echo

# When time runs out (README, "Timeouts"): one app's ai analysis given a 1 s
# attempt timeout and one attempt, on replicas that take 2-6 s. The task
# says which timeout, its value, what the analyzer last reported and what
# to change; what the analyzer reported before is its partial result.
cat >"$work/timeout.json" <<'JSON'
{"name": "demo: a timeout", "generation": {"mode": "existing", "existing_apps":
 [{"model": "local_model", "app_number": 1}]}, "analysis": {"analyzers": ["ai-analyzer"]},
 "timeouts": {"attempt": 1}, "retry": {"max_attempts": 1}}
JSON
tid=$(build/tools/sluicectl submit --file "$work/timeout.json")
build/tools/sluicectl watch "$tid" >/dev/null 2>&1 || true
echo "demo: a 1 s attempt timeout on a 2-6 s analysis, one attempt ($tid):"
build/tools/sluicectl get "$tid" | grep -E "^error |^$tid-t[0-9]+ [a-z_]+: |^  suggestion: " |
  sed 's/^/  /' || true
task=$(build/tools/sluicectl get "$tid" | grep -oE "$tid-t[0-9]+" | head -1 || true)
if [ -n "$task" ]; then
  echo "demo: what the analyzer reported before the timeout (sluicectl result $task):"
  build/tools/sluicectl result "$task" 2>&1 | sed 's/^/  /' || true
fi
echo "demo: sluiced log: $(grep -c . "$work/sluiced.log") lines; exit code $status"
exit "$status"
