#!/usr/bin/env bash
# Starts the servers the test suite needs, if they are down, and creates what the tests use.
# Safe to run again: every step checks first. Never stops the shared servers.
set -euo pipefail

need_packages=()
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v redis-cli >/dev/null || need_packages+=(redis-tools)
command -v redis-sentinel >/dev/null || need_packages+=(redis-sentinel) # test/redis-replicas, test/chaos (.ci/redis-sentinel.sh)
command -v psql >/dev/null || need_packages+=(postgresql)
command -v mariadb >/dev/null || need_packages+=(mariadb-server)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "installing ${need_packages[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}"
fi

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "$name did not come up" >&2; return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test"

if ! mariadb -h 127.0.0.1 -u root -e "SELECT 1" >/dev/null 2>&1; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb -h 127.0.0.1 -u root -e "SELECT 1"
fi
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi
