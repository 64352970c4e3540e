#!/usr/bin/env bash
# Stops the daemons .ci/slurm-up.sh started (listed in /run/pepr-ci-slurm.started), by the pids they
# wrote, never by name; daemons that were already running before it are left alone.
set -uo pipefail
started=/run/pepr-ci-slurm.started
[ -f "$started" ] || exit 0
stop() { # pidfile
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
# Reverse order: slurmd, slurmctld, then munged.
tac "$started" | while read -r pidfile; do stop "$pidfile"; done
rm -f "$started"
exit 0
