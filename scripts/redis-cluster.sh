#!/usr/bin/env bash
# A local Redis Cluster from Debian's redis-server (7.x): 3 masters and 3 replicas, no persistence,
# for development, tests and CI (see README, "Redis Cluster").
#
#   scripts/redis-cluster.sh start <dir> [port ...]   six ports, 7000-7005 by default
#   scripts/redis-cluster.sh stop <dir>
#
# `start` runs one redis-server per port (each also takes port + 10000, the cluster bus), joins
# them with `redis-cli --cluster create`, waits until `cluster info` says ok on every node and
# every replica is in sync with its master, then prints the REDIS_URL to use (every node,
# comma-separated). Each node's config (nodes-<port>.conf), log and pid file are kept in <dir>.
# `stop` shuts down every node started in <dir> and removes their cluster configs, so that <dir>
# can hold a new cluster; the logs stay.
set -euo pipefail

usage() {
  echo "usage: $0 start <dir> [port x6] | $0 stop <dir>" >&2
  exit 2
}

answers() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = "PONG" ]; }

# Polls a check (a command and its arguments) every 0.1 s for up to $1 seconds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  echo "$what not reached in ${seconds} s" >&2
  return 1
}

cluster_ok() {
  local port
  for port in "$@"; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# Every replica has its link to its master up (a manual failover needs it) and has loaded its copy.
replicas_in_sync() {
  local port info
  for port in "$@"; do
    info=$(redis-cli -p "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:slave' <<<"$info"; then
      grep -q '^master_link_status:up' <<<"$info" || return 1
      grep -q '^master_sync_in_progress:0' <<<"$info" || return 1
    fi
  done
}

start() {
  local dir=$1
  shift
  local ports=("$@")
  [ ${#ports[@]} -eq 0 ] && ports=(7000 7001 7002 7003 7004 7005)
  [ ${#ports[@]} -eq 6 ] || { echo "give six ports (3 masters, 3 replicas)" >&2; exit 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if compgen -G "$dir/nodes-*.conf" >/dev/null; then
    echo "$dir already holds a cluster: run '$0 stop $dir' first" >&2
    exit 1
  fi
  local port
  for port in "${ports[@]}"; do
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" \
      --save "" --appendonly no --dir "$dir" \
      --logfile "$dir/redis-$port.log" --pidfile "$dir/redis-$port.pid"
  done
  for port in "${ports[@]}"; do wait_for 10 "node on $port answering" answers "$port"; done
  local nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log"
  wait_for 30 "cluster_state:ok on every node" cluster_ok "${ports[@]}"
  wait_for 30 "every replica in sync" replicas_in_sync "${ports[@]}"
  local urls=()
  for port in "${ports[@]}"; do urls+=("redis://127.0.0.1:$port"); done
  (IFS=,; echo "${urls[*]}")
}

stop() {
  local dir=$1 conf port
  for conf in "$dir"/nodes-*.conf; do
    [ -e "$conf" ] || continue
    port=${conf##*/nodes-}
    port=${port%.conf}
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  for conf in "$dir"/nodes-*.conf; do
    [ -e "$conf" ] || continue
    port=${conf##*/nodes-}
    port=${port%.conf}
    wait_for 10 "node on $port stopped" bash -c "! redis-cli -p $port ping >/dev/null 2>&1" || true
    rm -f "$conf" "$dir/redis-$port.pid"
  done
}

[ $# -ge 2 ] || usage
case $1 in
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
