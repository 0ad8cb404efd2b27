#!/bin/sh
# Starts (or stops) a real Redis Sentinel setup from Debian's packages: one master, one replica and
# three redis-sentinel processes watching it under the name "mymaster".
#   .ci/redis-sentinel.sh start   # idempotent: does nothing when everything is already up
#   .ci/redis-sentinel.sh stop    # stops the five processes and removes their directory
#   .ci/redis-sentinel.sh install # only installs redis-sentinel (test/redis-replicas.test.ts and the chaos tests start their own)
# Ports: REDIS_SENTINEL_BASE (default 7201) is the master, +1 the replica, +2..+4 the sentinels.
# Each process has its own config file and dir under REDIS_SENTINEL_DIR (sentinels and failovers
# rewrite them). No persistence: this is scratch space for tests and the chaos run.
# Fast failover for tests: a master is "down" after 1 s without an answer; a failed attempt is retried after 4 s.
set -eu

BASE="${REDIS_SENTINEL_BASE:-7201}"
DIR="${REDIS_SENTINEL_DIR:-${TMPDIR:-/tmp}/sessionkit-redis-sentinel-$BASE}"
NAME=mymaster
HOST=127.0.0.1
MASTER=$BASE
REPLICA=$((BASE + 1))
SENTINELS="$((BASE + 2)) $((BASE + 3)) $((BASE + 4))"

if ! command -v redis-sentinel >/dev/null; then
  echo "installing redis-sentinel from Debian"
  apt-cache policy redis-sentinel | grep -q 'Candidate: (none)' && apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-sentinel
fi

cli() { redis-cli -h "$HOST" -p "$@"; }

ready() {
  for port in $SENTINELS; do
    cli "$port" sentinel ckquorum "$NAME" 2>/dev/null | grep -q '^OK' || return 1
    [ "$(cli "$port" sentinel replicas "$NAME" 2>/dev/null | grep -c '^ip$')" -ge 1 ] || return 1
  done
  cli "$REPLICA" info replication 2>/dev/null | grep -q 'master_link_status:up' ||
    cli "$MASTER" info replication 2>/dev/null | grep -q 'master_link_status:up'
}

server_conf() { # port, extra lines...
  port=$1; shift
  mkdir -p "$DIR/$port"
  {
    echo "port $port"; echo "bind $HOST"; echo "dir $DIR/$port"; echo "daemonize yes"
    echo "pidfile $DIR/$port/pid"; echo "logfile $DIR/$port/log"
    echo 'save ""'; echo "appendonly no"
    for line in "$@"; do echo "$line"; done
  } >"$DIR/$port/redis.conf"
}

start_if_down() { # port, program
  if ! cli "$1" ping >/dev/null 2>&1; then "$2" "$DIR/$1/redis.conf"; fi
}

start() {
  if ready; then echo "redis sentinel already up: master group $NAME, sentinels on $SENTINELS"; return 0; fi
  # Config files are written once: after a failover the servers and sentinels keep their own rewrites.
  if [ ! -d "$DIR" ]; then
    server_conf "$MASTER"
    server_conf "$REPLICA" "replicaof $HOST $MASTER"
    for port in $SENTINELS; do
      server_conf "$port" "sentinel monitor $NAME $HOST $MASTER 2" "sentinel down-after-milliseconds $NAME 1000" \
        "sentinel failover-timeout $NAME 2000" "sentinel parallel-syncs $NAME 1"
      sed -i '/^save\|^appendonly/d' "$DIR/$port/redis.conf"
    done
  fi
  start_if_down "$MASTER" redis-server
  start_if_down "$REPLICA" redis-server
  for port in $SENTINELS; do start_if_down "$port" redis-sentinel; done
  wait_for "sentinels to agree on $NAME and see its replica" ready
  echo "redis sentinel up: master $HOST:$MASTER, replica $HOST:$REPLICA, sentinels on $SENTINELS (dir $DIR)"
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
  for port in $SENTINELS $MASTER $REPLICA; do
    pidfile="$DIR/$port/pid"
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  for port in $SENTINELS $MASTER $REPLICA; do
    pidfile="$DIR/$port/pid"
    # redis removes its pidfile on a clean exit; wait for that so the ports are free for a restart.
    [ -f "$pidfile" ] && wait_for "process on $port to exit" sh -c "! kill -0 \$(cat '$pidfile' 2>/dev/null) 2>/dev/null" || true
  done
  rm -rf "$DIR"
  echo "redis sentinel stopped"
}

case "${1:-}" in
  install) ;; # the install above is all: the tests start Sentinel setups of their own
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
