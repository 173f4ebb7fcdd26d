#!/bin/bash
# Instructions per command of one build's in-process command loop, counted by valgrind
# (cachegrind, no cache simulation), so the figure does not move with the machine's load as CPU
# time does: bench/inproc-loop.mjs run for n1 and for n2 commands, (I2 - I1) / (n2 - n1), which
# leaves out start-up and the reads' making. The JIT's tiers follow call counts, not time, so two
# runs of one build agree to ~1% (docs/PERFORMANCE.md, "p16e"). Needs valgrind; ~2 min per run
# on a quiet machine.
#
#   bench/instructions-per-command.sh <dist> <test> [n1] [n2]
set -e
dist=$1; test=$2; n1=${3:-200000}; n2=${4:-600000}
here=$(cd "$(dirname "$0")" && pwd)
count() {
  valgrind --tool=cachegrind --cache-sim=no --smc-check=all-non-file --cachegrind-out-file=/dev/null \
    node "$here/inproc-loop.mjs" "$dist" "$test" "$1" 2>&1 | awk '/I +refs/ { gsub(",", "", $4); print $4 }'
}
i1=$(count "$n1"); i2=$(count "$n2")
echo "$dist $test $(( (i2 - i1) / (n2 - n1) )) instructions per command ($i1 at $n1, $i2 at $n2)"
