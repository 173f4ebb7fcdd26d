#!/bin/bash
# SET + WAIT 1, two nodis builds in both orders (docs/PERFORMANCE.md, wait5): bench/durable.mjs
# run once from tree A with tree B as --nodis-before (A first in each round), then from B with A
# (B first). Each tree needs bin/, dist/ and bench/ (a copy of a built checkout will do: builds
# in use elsewhere must not change under a run).
#   bench/wait-ab.sh <tree A> <tree B> [rounds 7] [--no-redis]
A=$(realpath "$1"); B=$(realpath "$2"); R=${3:-7}
only='nodis SET|nodis (before)|redis-server'
[ "$4" = "--no-redis" ] && only='nodis SET|nodis (before)'
echo "== A first (rows: 'nodis SET + WAIT 1' = $A, 'nodis (before)' = $B)"; uptime
node "$A/bench/durable.mjs" --wait-pairs --split --nodis-before "$B/bin/nodis-server" --only "$only" --rounds "$R" --seconds 3 2>/dev/null
echo "== B first (rows: 'nodis SET + WAIT 1' = $B, 'nodis (before)' = $A)"; uptime
node "$B/bench/durable.mjs" --wait-pairs --split --nodis-before "$A/bin/nodis-server" --only "$only" --rounds "$R" --seconds 3 2>/dev/null
uptime
