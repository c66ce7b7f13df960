#!/usr/bin/env bash
# soak.sh: sluiced under a realistic mixed workload with faults for a while,
# sampling what must stay flat (README, "Soak").
#
# Starts a mock fleet (2 replicas per analyzer and a generator; one static
# replica freezes, one dynamic drops connections mid-analysis, one ai
# replica errors on 10 % of its requests and one performance replica is
# slow to accept; analyses take 0.1-0.5 s) and sluiced on a fresh data
# directory with short retention and eviction (store/retention_s 60,
# pipeline/evict_after_s 20), so finished pipelines and their events leave
# memory and disk while it runs. Keeps PIPELINES pipelines in flight (mixed:
# generate and existing modes, 1-12 apps, 1-4 analyzers; every 7th one
# cancelled at once) and every INTERVAL seconds prints one line:
#   t_s rss_anon_kb rss_file_kb fds lmdb_kb finished stuck
# (finished: pipelines that reached a final status; stuck: pipelines
# running for more than 10 minutes). At the end it stops submitting, waits
# (at most 5 minutes) for every pipeline to end and checks:
#   - anonymous RSS and open fds flat after the warm-up: the least-squares
#     slope of the samples after WARMUP seconds below 512 KB/min and
#     0.5 fd/min;
#   - 0 stuck, and 0 lost: every pipeline it started answers pipeline.get
#     with a final status, or was removed by retention (it ended over 60 s
#     before).
# Exit 0 pass, 1 fail (the failed rule printed), 2 bad usage.
#
#   tools/soak.sh [--minutes M (15)] [--interval S (5)] [--warmup S (120)]
#                 [--pipelines N (6)] [--out FILE (the samples, also printed)]
#
# Not in CI (it runs for minutes). Everything it starts is stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=15 interval=5 warmup=120 inflight=6 out=""
while [ $# -gt 0 ]; do
  case $1 in
  --minutes) minutes=$2; shift 2 ;;
  --interval) interval=$2; shift 2 ;;
  --warmup) warmup=$2; shift 2 ;;
  --pipelines) inflight=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
  esac
done

cmake -S . -B build >/dev/null
cmake --build build -j2 --target sluiced sluicectl sluice-mock-analyzer >/dev/null

work=$(mktemp -d /tmp/sluice-soak.XXXXXX)
out=${out:-$work/samples.txt}
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
  echo "soak: logs and samples in $work" >&2
}
trap cleanup EXIT

wait_for_line() {
  for _ in $(seq 1 150); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "soak: timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  exit 1
}

base=$((20000 + RANDOM % 20000))
gw=$((base + 20))
replicas=() urls_static="" urls_dynamic="" urls_perf="" urls_ai=""
add() { # service port [fault]
  replicas+=(--replica "$1:127.0.0.1:$2${3:+:$3}")
}
add static-analyzer $base fault=freeze%5
add static-analyzer $((base + 1))
add dynamic-analyzer $((base + 2)) fault=disconnect%10
add dynamic-analyzer $((base + 3))
add performance-tester $((base + 4)) fault=slow%10:slow=300
add performance-tester $((base + 5))
add ai-analyzer $((base + 6)) fault=error%10
add ai-analyzer $((base + 7))
add generator $((base + 8))
u() { echo "ws://127.0.0.1:$1,ws://127.0.0.1:$2"; }

build/tools/sluice-mock-analyzer "${replicas[@]}" --latency 100-500 --progress 50 \
  --gateway "ws://127.0.0.1:$gw" >"$work/mock.log" 2>&1 &
pids+=($!)
wait_for_line "$work/mock.log" '^ready'

api="ipc://$work/api.sock" pub="ipc://$work/pub.sock"
build/tools/sluiced --set sluice/data_dir="$work/data" --set api/endpoint="$api" \
  --set api/pub="$pub" --set progress/listen="ws://127.0.0.1:$gw" \
  --set store/retention_s=60 --set pipeline/evict_after_s=20 \
  --set services/static-analyzer/urls="$(u $base $((base + 1)))" \
  --set services/dynamic-analyzer/urls="$(u $((base + 2)) $((base + 3)))" \
  --set services/performance-tester/urls="$(u $((base + 4)) $((base + 5)))" \
  --set services/ai-analyzer/urls="$(u $((base + 6)) $((base + 7)))" \
  --set services/generator/urls="ws://127.0.0.1:$((base + 8))" \
  --set services/static-analyzer/attempt_timeout_s=10 \
  --set services/static-analyzer/progress_timeout_s=3 \
  >"$work/sluiced.log" 2>&1 &
dpid=$!
pids+=($dpid)
wait_for_line "$work/sluiced.log" 'sluiced: ready'
ctl() { build/tools/sluicectl --api "$api" --pub "$pub" "$@"; }

analyzers=(static-analyzer dynamic-analyzer performance-tester ai-analyzer)
n_started=0
declare -A started_at=()
submit() {
  local args=(--name "soak $n_started" --max-attempts 2) k apps
  apps=$((1 + RANDOM % 12))
  if ((RANDOM % 2)); then
    for ((k = 1; k <= apps; k++)); do args+=(--existing-app "m$((RANDOM % 3)):$k"); done
  else
    args+=(--model "m$((RANDOM % 3))")
    for ((k = 0; k < (apps + 3) / 4; k++)); do args+=(--template "t$k"); done
  fi
  for a in "${analyzers[@]}"; do ((RANDOM % 2)) && args+=(--analyzer "$a"); done
  args+=(--target-url "http://{model}-app{app}:5000")
  local id
  id=$(ctl submit "${args[@]}" 2>>"$work/ctl.log") || return 0
  started_at[$id]=$SECONDS
  n_started=$((n_started + 1))
  if ((n_started % 7 == 0)); then ctl cancel "$id" >/dev/null 2>&1 || true; fi
}

# The list of this daemon's pipelines as "id status created_at" lines.
listing() {
  ctl --json list --limit 100000 2>/dev/null |
    python3 -c 'import json,sys
for p in json.load(sys.stdin).get("pipelines", []):
    print(p["id"], p["status"], p["created_at"])'
}

sample() { # prints one sample line
  local anon file fds lmdb running finished stuck now
  anon=$(awk '/^RssAnon/ {print $2}' "/proc/$dpid/status")
  file=$(awk '/^RssFile/ {print $2}' "/proc/$dpid/status")
  fds=$(ls "/proc/$dpid/fd" | wc -l)
  lmdb=$(du -k "$work/data/data.mdb" | cut -f1)
  local list
  list=$(listing)
  running=$(grep -c ' running ' <<<"$list" || true)
  finished=$((n_started - running))
  now=$(date +%s%3N)
  stuck=$(awk -v now="$now" '$2 == "running" && now - $3 > 600000' <<<"$list" | wc -l)
  echo "$SECONDS $anon $file $fds $lmdb $finished $stuck"
}

echo "# t_s rss_anon_kb rss_file_kb fds lmdb_kb finished stuck" | tee "$out"
end=$((SECONDS + minutes * 60))
next=$SECONDS
while ((SECONDS < end)); do
  running=$(listing | grep -c ' running ' || true)
  for ((i = running; i < inflight; i++)); do submit; done
  if ((SECONDS >= next)); then
    sample | tee -a "$out"
    next=$((SECONDS + interval))
  fi
  sleep 0.5
done

# Drain: every pipeline ends (bounded), then the rules.
for _ in $(seq 1 300); do
  [ "$(listing | grep -c ' running ' || true)" -eq 0 ] && break
  sleep 1
done
sample | tee -a "$out"
fail=0
slope() { # column: least-squares slope per minute of the samples after the warm-up
  awk -v c="$1" -v w="$warmup" '!/^#/ && $1 >= w {n++; x += $1; y += $c; xx += $1 * $1; xy += $1 * $c}
    END {d = n * xx - x * x; if (n < 3 || d == 0) print "nan"; else printf "%.3f\n", 60 * (n * xy - x * y) / d}' "$out"
}
anon_slope=$(slope 2) fd_slope=$(slope 4)
echo "soak: $n_started pipelines started; anonymous RSS slope $anon_slope KB/min, fds slope $fd_slope /min after ${warmup}s"
if [ "$anon_slope" = nan ] || awk -v s="$anon_slope" 'BEGIN {exit !(s >= 512)}'; then
  echo "soak: FAIL anonymous RSS not flat (slope $anon_slope KB/min, bound 512)"; fail=1
fi
if [ "$fd_slope" = nan ] || awk -v s="$fd_slope" 'BEGIN {exit !(s >= 0.5)}'; then
  echo "soak: FAIL open fds not flat (slope $fd_slope /min, bound 0.5)"; fail=1
fi
lost=0 stuck=0
for id in "${!started_at[@]}"; do
  st=$(ctl --json get "$id" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline"]["status"])' 2>/dev/null ||
    echo gone)
  case $st in
  completed | partial_success | failed | cancelled) ;;
  gone) # retention may have taken it: it started over 60 s before the end
    ((SECONDS - started_at[$id] > 60)) || { echo "soak: lost $id"; lost=$((lost + 1)); } ;;
  *) echo "soak: stuck $id ($st)"; stuck=$((stuck + 1)) ;;
  esac
done
echo "soak: $stuck stuck, $lost lost"
((stuck == 0 && lost == 0)) || fail=1
((fail == 0)) && echo "soak: PASS"
exit "$fail"
