#!/usr/bin/env bash
# A single-node Slurm cluster for the tests, all of it in STATE_DIR:
#   slurm_up.sh STATE_DIR SLURMCTLD_PORT SLURMD_PORT
# Starts munged (its own key and socket), slurmctld and slurmd, as root,
# with ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
# SelectType=select/cons_tres, no accounting, one partition holding this
# host with its CPUs. Afterwards SLURM_CONF=STATE_DIR/slurm.conf; stop it by
# killing the pids in STATE_DIR/*.pid (tests/helpers/slurm.ts does both).
# Needs Debian's slurm-wlm and munge. Adapted from a script tried with
# slurm-wlm 22.05 and munge 0.5.15 on Debian 12.
set -eu
PATH=$PATH:/usr/sbin:/sbin
D=$1 CPORT=$2 DPORT=$3
H=$(hostname -s)
mkdir -p "$D/spool" "$D/state" "$D/log" "$D/munge"
chmod 700 "$D/munge"
dd if=/dev/urandom bs=1 count=1024 of="$D/munge/munge.key" 2>/dev/null
chmod 400 "$D/munge/munge.key"
cat >"$D/slurm.conf" <<CONF
ClusterName=pwalktest
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$CPORT
SlurmdPort=$DPORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmdSpoolDir=$D/spool
StateSaveLocation=$D/state
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
  --pid-file="$D/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
export SLURM_CONF=$D/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
