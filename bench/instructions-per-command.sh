#!/bin/bash
# Instructions per command of one build's in-process command loop, counted by valgrind
# (cachegrind, no cache simulation), so the figure does not move with the machine's load as CPU
# time does: bench/inproc-loop.mjs run for n1 and for n2 commands, (I2 - I1) / (n2 - n1), which
# leaves out start-up and the reads' making. The JIT's tiers follow call counts, but V8 compiles
# its top tier on a background thread, which valgrind runs in turns with the loop: under load a
# run of 200,000/600,000 read 8485 for a PING whose steady state is ~2900 (docs/PERFORMANCE.md,
# "p16f"), so n1 is 600,000 by default. Builds of one source still differ by up to ~±100
# instructions (inlining). Needs valgrind; several minutes per run.
#
#   bench/instructions-per-command.sh <dist> <test> [n1] [n2]
set -e
dist=$1; test=$2; n1=${3:-600000}; n2=${4:-1800000}
here=$(cd "$(dirname "$0")" && pwd)
count() {
  valgrind --tool=cachegrind --cache-sim=no --smc-check=all-non-file --cachegrind-out-file=/dev/null \
    node "$here/inproc-loop.mjs" "$dist" "$test" "$1" 2>&1 | awk '/I +refs/ { gsub(",", "", $4); print $4 }'
}
i1=$(count "$n1"); i2=$(count "$n2")
echo "$dist $test $(( (i2 - i1) / (n2 - n1) )) instructions per command ($i1 at $n1, $i2 at $n2)"
