#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS each on the stable toolchain.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# `--sanitizer none` needs no nightly: libFuzzer's coverage instrumentation uses stable
# `-C` flags only (AddressSanitizer would need `-Zsanitizer`; safe Rust gains little from it).
# Seeds: fuzz/seeds/TARGET (committed, including every input that once crashed) and, for the
# inventory targets, examples/*.toml. New inputs go to fuzz/corpus/TARGET (not committed).
# Exits non-zero when a target crashes; the input is left in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
if [ "$#" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
else
    targets=("$@")
fi

for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    dirs=("corpus/$t" "seeds/$t")
    case "$t" in
        inventory_*) dirs+=("../examples") ;;
    esac
    opts=(-max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1)
    if [ -f "$t.dict" ]; then
        opts+=(-dict="$t.dict")
    fi
    echo "fuzz: $t for ${secs}s (seeds: ${dirs[*]})"
    log=$(mktemp)
    status=0
    cargo fuzz run --sanitizer none "$t" "${dirs[@]}" -- "${opts[@]}" >"$log" 2>&1 || status=$?
    # libFuzzer prints a line per new input; show the summary and any failure only.
    grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        rm -f "$log"
        echo "fuzz: target $t failed (exit $status); reproduce with: cargo fuzz run --sanitizer none $t fuzz/artifacts/$t/<file>" >&2
        exit 1
    fi
    rm -f "$log"
done
