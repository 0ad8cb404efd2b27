#!/bin/sh
# Starts (or stops) a real 3-master Redis Cluster on 127.0.0.1:7101-7103 for the Redis store tests.
#   .ci/redis-cluster.sh start   # idempotent: does nothing when the cluster is already up and ok
#   .ci/redis-cluster.sh stop    # shuts the nodes down and removes their directory
#   .ci/redis-cluster.sh start|stop --replicas   # 3 masters with 1 replica each, on 7111-7116
# No persistence (--save "" --appendonly no): the cluster is scratch space for tests. With
# --replicas a replica takes over 1 s after its master stops answering (cluster-node-timeout).
set -eu

REPLICAS=0
[ "${2:-}" = "--replicas" ] && REPLICAS=1
if [ "$REPLICAS" = 1 ]; then
  PORTS="${REDIS_CLUSTER_PORTS:-7111 7112 7113 7114 7115 7116}"
  DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/sessionkit-redis-cluster-replicas}"
else
  PORTS="${REDIS_CLUSTER_PORTS:-7101 7102 7103}"
  DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/sessionkit-redis-cluster}"
fi
HOST=127.0.0.1

state_ok() { redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

all_ok() {
  for port in $PORTS; do state_ok "$port" || return 1; done
}

start() {
  if all_ok; then echo "redis cluster already up on $PORTS"; return 0; fi
  mkdir -p "$DIR"
  for port in $PORTS; do
    if ! redis-cli -h "$HOST" -p "$port" ping >/dev/null 2>&1; then
      mkdir -p "$DIR/$port"
      redis-server --cluster-enabled yes --cluster-config-file "$DIR/$port/nodes.conf" --dir "$DIR/$port" \
        --cluster-node-timeout "$([ "$REPLICAS" = 1 ] && echo 1000 || echo 15000)" --port "$port" --bind "$HOST" --save "" --appendonly no --daemonize yes \
        --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log"
    fi
  done
  for port in $PORTS; do wait_for "redis-server on $port" redis-cli -h "$HOST" -p "$port" ping; done
  # Nodes that already know their slots (a restart of a half-stopped cluster) must not be re-created.
  first=$(set -- $PORTS; echo "$1")
  if [ "$(redis-cli -h "$HOST" -p "$first" cluster info | grep '^cluster_slots_assigned:' | tr -d '\r' | cut -d: -f2)" = "0" ]; then
    nodes=""
    for port in $PORTS; do nodes="$nodes $HOST:$port"; done
    # shellcheck disable=SC2086
    redis-cli --cluster create $nodes --cluster-replicas "$REPLICAS" --cluster-yes >/dev/null
  fi
  for port in $PORTS; do wait_for "cluster_state:ok on $port" state_ok "$port"; done
  if [ "$REPLICAS" = 1 ]; then for port in $PORTS; do wait_for "replication link on $port" link_up "$port"; done; fi
  echo "redis cluster up on $PORTS (dir $DIR)"
}

# A master counts as linked once it has a replica online; a replica once its link is up.
link_up() {
  redis-cli -h "$HOST" -p "$1" info replication | grep -q 'master_link_status:up\|connected_slaves:[1-9]'
}

wait_for() {
  what=$1; shift
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 300 ]; then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}

stop() {
  for port in $PORTS; do redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$DIR"
  echo "redis cluster stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [--replicas]" >&2; exit 2 ;;
esac
