#!/usr/bin/env bash
# Run benchmark jobs from a queue file, one job at a time per lane; start one lane per core.
# A job is a line of arguments to `python -m benchmarks.push_learning` (or `drape_learning ...`
# when the line starts with `drape`). Append lines while the lanes run; a lane stops when
# the queue is empty.
#   bash benchmarks/lanes.sh QUEUE_FILE LANE_NAME
set -uo pipefail
queue=$1
lane=$2
while true; do
  job=$(flock "$queue.lock" bash -c "head -n 1 '$queue'; sed -i 1d '$queue'")
  [ -z "$job" ] && break
  module=benchmarks.push_learning
  if [[ $job == drape* ]]; then module=benchmarks.drape_learning; job=${job#drape}; fi
  echo "[$lane $(date +%H:%M:%S)] start: $job"
  # shellcheck disable=SC2086
  .venv/bin/python -m $module $job > "runs/lane_${lane}_$(date +%H%M%S).log" 2>&1
  echo "[$lane $(date +%H:%M:%S)] exit $?: $job"
done
