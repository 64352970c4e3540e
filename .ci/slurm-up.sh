#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for tests/slurm.rs: installs slurm-wlm and munge
# when missing (Debian; needs root), writes slurm.conf and cgroup.conf for this host, starts munged,
# slurmctld and slurmd, and waits until the node is idle. .ci/slurm-down.sh stops them by pid.
# Checked on Debian 12 with slurm-wlm 22.05.8 and munge 0.5.15.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "slurm-up: needs root (installs packages, writes /etc/slurm)" >&2
  exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
fi

host=$(hostname -s)
# The pid files of the daemons this script starts; slurm-down.sh stops those and nothing else (and
# removes the list). Kept across runs that end early, so nothing started is forgotten.
started=/run/pepr-ci-slurm.started
touch "$started"
remember() { grep -qxF "$1" "$started" || echo "$1" >> "$started"; }
cpus=$(nproc)
# The notes' 2000 MB, or less on a smaller machine (slurmd drains a node that has less than it claims).
mem=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
[ "$mem" -gt 2000 ] && mem=2000

# munge authenticates every Slurm message; the package made /etc/munge/munge.key.
for d in /etc/munge /run/munge /var/lib/munge /var/log/munge; do
  mkdir -p "$d"
  chown -R munge:munge "$d"
done
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su -s /bin/sh munge -c /usr/sbin/munged
  remember /run/munge/munged.pid
  for _ in $(seq 1 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
munge -n | unmunge | grep -q Success || { echo "slurm-up: munge does not work" >&2; exit 1; }

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
# A machine with its own Slurm configuration keeps it: only a file this script wrote is rewritten.
marker="# written by pepr's .ci/slurm-up.sh"
if [ -f /etc/slurm/slurm.conf ] && ! grep -qE "^(# written by pepr|ClusterName=pepr-ci$)" /etc/slurm/slurm.conf; then
  echo "slurm-up: /etc/slurm/slurm.conf exists and was not written by this script; using it as it is" >&2
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then exit 0; fi
  echo "slurm-up: but no node is up (sinfo)" >&2
  exit 1
fi
# No accounting database: sacct has nothing, pepr reads job state from squeue and scontrol.
cat > /etc/slurm/slurm.conf <<CONF
$marker
ClusterName=pepr-ci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
KillWait=30
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# 22.05 has no "disabled" cgroup plugin, and slurmd does not start without this file.
cat > /etc/slurm/cgroup.conf <<CONF
$marker
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
CgroupAutomount=no
CONF

start() { # name pidfile
  local pid
  pid=$(cat "$2" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  "$1"
  remember "$2"
}
start slurmctld /run/slurmctld.pid
sleep 1
start slurmd /run/slurmd.pid

for _ in $(seq 1 60); do
  state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
  case "$state" in
    idle|mixed|allocated) echo "slurm-up: node $host is $state ($cpus CPUs)"; exit 0 ;;
    down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
  esac
  sleep 1
done
echo "slurm-up: node $host did not become idle; see /var/log/slurm/" >&2
sinfo >&2 || true
exit 1
