#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try `launcher=slurm` without a real cluster.
#   scripts/slurm-local.sh start     # munged, slurmctld, slurmd; returns when the node is idle
#   scripts/slurm-local.sh stop      # cancels jobs, waits for an empty queue, stops the daemons
#   scripts/slurm-local.sh status
# Needs Debian's slurmctld slurmd slurm-client munge (as root:
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge)
# and root (the daemons run as root here; SlurmUser=root). No accounting: jobs' states come
# from squeue/scontrol through synthlab's sacct stand-in (conf/launcher/slurm_local.yaml).
# State lives in $SLURM_LOCAL_DIR (default /tmp/synthlab-slurm); the daemons' PIDs are kept
# there and stopped by PID, never by name.
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/synthlab-slurm}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

need() { command -v "$1" >/dev/null 2>&1 || { echo "slurm-local: $1 not found; install slurmctld slurmd slurm-client munge" >&2; exit 3; }; }

write_conf() {
  local node cpus mem
  node=$(hostname -s)
  cpus=$(nproc)
  # slurmd refuses a node whose RealMemory is above what it measures: stay under it
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mem=$(( mem * 9 / 10 ))
  mkdir -p "$DIR/spool/ctld" "$DIR/spool/d" "$DIR/log" "$DIR/munge"
  cat > "$CONF" <<EOF
ClusterName=synthlab-local
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
# finished jobs stay visible to scontrol for an hour: the sacct stand-in reads them there
MinJobAge=3600
KillWait=10
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  local key=$DIR/munge/munge.key
  [ -f "$key" ] || { dd if=/dev/urandom of="$key" bs=1024 count=1 status=none; chmod 400 "$key"; }
  mkdir -p /run/munge && chmod 755 /run/munge
  munged --key-file="$key" --pid-file="$DIR/munged.pid" --socket=/run/munge/munge.socket.2 \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed" -f
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  need munged; need slurmctld; need slurmd; need sinfo
  [ "$(id -u)" = 0 ] || { echo "slurm-local: run as root (the local daemons run as root)" >&2; exit 3; }
  if alive "$DIR/slurmctld.pid"; then echo "slurm-local: already running ($CONF)"; return 0; fi
  write_conf
  alive "$DIR/munged.pid" || start_munge
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -o "%t" 2>/dev/null | grep -qx idle; then
      echo "slurm-local: node $(hostname -s) idle; export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 0.5
  done
  echo "slurm-local: the node did not become idle in 30 s; see $DIR/log" >&2
  sinfo >&2 || true
  exit 1
}

stop_pid() {  # TERM, wait up to 10 s, then KILL
  local f=$1
  alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return 0; }; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

stop() {
  if alive "$DIR/slurmctld.pid"; then
    # jobs first: stopping slurmd under a running step leaves its processes behind
    scancel --full --user=root 2>/dev/null || true
    for _ in $(seq 1 40); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  stop_pid "$DIR/slurmd.pid"
  stop_pid "$DIR/slurmctld.pid"
  stop_pid "$DIR/munged.pid"
  echo "slurm-local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) alive "$DIR/slurmctld.pid" && { sinfo; squeue; } || { echo "slurm-local: not running"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
