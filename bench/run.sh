#!/usr/bin/env bash
# Runs the project's benchmarks next to their references and summarises them
# with benchstat (medians of -count runs). Results go to bench/out/; copy the
# tables into docs/benchmarks.md with the machine they came from.
#
#   bash bench/run.sh            # everything, -count 6
#   COUNT=3 bash bench/run.sh envelope
#   bash bench/run.sh http       # byok dev in its own process + bench/httpload
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
OUT=bench/out
mkdir -p "$OUT"
go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT="$(go env GOPATH)/bin/benchstat"

run() { # name package pattern
  echo "== $1" >&2
  go test -run '^$' -bench "$3" -benchmem -count "$COUNT" "$2" | tee "$OUT/$1.txt" >/dev/null
  "$BENCHSTAT" "$OUT/$1.txt" | tee "$OUT/$1.stat"
}

# http_bench starts `byok dev` (SQLite, the in-process AWS emulator, a demo
# tenant) in its own process and drives it with bench/httpload over
# loopback, COUNT times per shape. httpload reports its own CPU and the
# server's, so the split of the machine between them shows.
http_bench() {
  echo "== http" >&2
  local dir bin
  dir=$(mktemp -d)
  bin="$dir/bin"
  go build -o "$bin/byok" ./cmd/byok
  go build -o "$bin/httpload" ./bench/httpload
  "$bin/byok" dev --dir "$dir/data" --listen 127.0.0.1:18080 --emulator 127.0.0.1:14566 >"$dir/dev.out" 2>/dev/null &
  local pid=$!
  trap 'kill $pid 2>/dev/null; rm -rf "$dir"' RETURN
  for _ in $(seq 50); do grep -q BYOK_TOKEN= "$dir/dev.out" 2>/dev/null && break; sleep 0.2; done
  sleep 1
  local token
  token=$(grep -o 'BYOK_TOKEN=[a-z0-9_]*' "$dir/dev.out" | cut -d= -f2)
  : > "$OUT/http.txt"
  for _ in $(seq "$COUNT"); do
    "$bin/httpload" -url http://127.0.0.1:18080 -token "$token" -tenant demo -server-pid $pid \
      -c "${HTTP_CONNS:-16}" -d "${HTTP_DURATION:-10s}" | tee -a "$OUT/http.txt"
    "$bin/httpload" -url http://127.0.0.1:18080 -token "$token" -tenant demo -server-pid $pid \
      -c "${HTTP_BATCH_CONNS:-4}" -batch 100 -d "${HTTP_DURATION:-10s}" | tee -a "$OUT/http.txt"
  done
}

what=${1:-all}
if [[ $what == all || $what == envelope ]]; then
  run envelope-records ./envelope 'RawAESGCM/1KiB|Seal/1KiB|Open/1KiB'
  run envelope-streams ./envelope 'RawAESGCM/1MiB|StreamSeal|StreamOpen'
fi
if [[ $what == all || $what == keyring ]]; then
  run keyring ./keyring 'CacheHit|CachedTenantsMemory'
  # The two Seal benchmarks run in alternating processes: run back to back in
  # one process, whichever comes second measures 10-20% slower.
  : > "$OUT/keyring-seal.txt"
  for _ in $(seq "$COUNT"); do
    for b in 'Seal/envelope' 'Seal/keyring'; do
      go test -run '^$' -bench "$b" -benchmem -count 1 ./keyring | grep '^Benchmark' >> "$OUT/keyring-seal.txt"
    done
  done
  "$BENCHSTAT" "$OUT/keyring-seal.txt" | tee "$OUT/keyring-seal.stat"
fi
if [[ $what == all || $what == awsemu ]]; then
  run awsemu ./awsemu 'SDKDecrypt'
fi
if [[ $what == all || $what == http ]]; then
  http_bench
fi
{ uname -srm; grep -m1 'model name' /proc/cpuinfo; nproc; go version; } > "$OUT/machine.txt"
