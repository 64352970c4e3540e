#!/usr/bin/env bash
# Stops what .ci/slurm-up.sh started, by the pids the daemons wrote (never by name). munged is left
# running only if it was not started for us: its pid file is /run/munge/munged.pid.
set -uo pipefail
stop() { # pidfile
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
stop /run/slurmd.pid
stop /run/slurmctld.pid
stop /run/munge/munged.pid
exit 0
