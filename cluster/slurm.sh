#!/usr/bin/env bash
# A real one-node Slurm on this machine, for the tests and for trying the cluster path on a workstation:
# Debian's slurm-wlm with accounting (slurmdbd + MariaDB: the Snakemake Slurm plugin polls job states with
# sacct) and one advertised GPU (gres on /dev/null: Slurm hands out CUDA_VISIBLE_DEVICES as it would for a
# real one). No systemd: each daemon is started directly. Needs root (it writes /etc/slurm).
#
#   bash cluster/slurm.sh install   # apt-get the packages (Debian 12: ~25 s)
#   bash cluster/slurm.sh start     # write the configuration, start munge, MariaDB, slurmdbd, slurmctld, slurmd
#   bash cluster/slurm.sh status    # sinfo and the accounting cluster
#   bash cluster/slurm.sh stop
set -euo pipefail
CLUSTER=allrepro
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))  # a little under the machine's
LOG=/var/log/slurm

install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q slurm-wlm slurmdbd munge mariadb-server >/dev/null
}

configure() {
  mkdir -p /etc/slurm "$LOG" /var/spool/slurmctld /var/spool/slurmd /run/munge
  cat > /etc/slurm/slurm.conf <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
GresTypes=gpu
NodeName=localhost CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
  echo "Name=gpu Count=1 File=/dev/null" > /etc/slurm/gres.conf
  cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: SECONDS of wall time, however long each try takes
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  while [ "$(date +%s)" -lt "$deadline" ]; do timeout 10 "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "slurm.sh: $what did not come up in $seconds s (logs: $LOG, /var/log/mysql)" >&2; return 1
}

start() {
  configure
  chown munge:munge /run/munge
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged --force
  if ! pgrep -x mariadbd >/dev/null && ! pgrep -x mysqld >/dev/null; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    (mysqld_safe >/dev/null 2>&1 &)
  fi
  wait_for 60 MariaDB mysqladmin ping
  mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  pgrep -x slurmdbd >/dev/null || slurmdbd
  wait_for 30 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true  # already there on a restart
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  wait_for 30 "the node" sh -c 'sinfo -h -o %T | grep -qx idle'
  echo "slurm.sh: one node ($CPUS CPUs, $MEM_MB MB, 1 GPU) idle; cluster $CLUSTER with accounting"
}

stop() {
  for daemon in slurmd slurmctld slurmdbd; do pkill -x "$daemon" || true; done
  mysqladmin shutdown 2>/dev/null || true
  pkill -x munged || true
  # gone before this returns: a `start` right after must not find a daemon on its way out and count on it
  for _ in $(seq 120); do [ -z "$(running)" ] && return 0; sleep 0.25; done
  echo "slurm.sh: still running after 30 s: $(running)" >&2
  return 1
}

running() {  # the daemons this script starts that are still alive, by name
  for daemon in slurmd slurmctld slurmdbd mariadbd mysqld munged; do pgrep -x "$daemon" >/dev/null && echo -n "$daemon "; done
  return 0
}

status() {
  sinfo
  sacctmgr -n list cluster format=cluster
}

"${1:?usage: slurm.sh install|start|status|stop}"
