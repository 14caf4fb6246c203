#!/bin/sh
# One Sentinel of deploy/docker-compose.ha.yml.
#
# Sentinel must be able to rewrite its configuration file (it records there
# the current master, the replicas and the other Sentinels it found), so the
# file cannot be a read-only mount: on the first start this script writes
# $SENTINEL_CONF (default /data/sentinel.conf, on the Sentinel's volume) from
# the environment. Later starts keep Sentinel's own rewritten file, which
# names the master of the moment; writing it again would point the Sentinel
# back at a node that may have become a replica.
#
# Environment (the compose file sets them):
#   SENTINEL_MASTER_HOST, SENTINEL_MASTER_PORT (6379)  the master at first start
#   SENTINEL_MASTER_NAME (mymaster)  what the bot's REDIS_SENTINEL_MASTER names
#   SENTINEL_QUORUM (2)  Sentinels that must agree the master is down
#   SENTINEL_DOWN_AFTER_MS (2000)  no answer this long: the master is down
#   SENTINEL_FAILOVER_TIMEOUT_MS (5000)  how long one failover attempt may take
#   SENTINEL_ANNOUNCE_HOST  this Sentinel's name on the network
#   SENTINEL_PORT (26379), SENTINEL_BIND (all interfaces), SENTINEL_CONF
set -eu

conf="${SENTINEL_CONF:-/data/sentinel.conf}"
name="${SENTINEL_MASTER_NAME:-mymaster}"
if [ ! -s "$conf" ]; then
    tmp="$conf.new"
    {
        echo "port ${SENTINEL_PORT:-26379}"
        echo "bind ${SENTINEL_BIND:-* -::*}"
        # Reached from the other containers of the network, without a password.
        echo "protected-mode no"
        echo "dir $(dirname "$conf")"
        # Containers are known by name: their addresses change when recreated.
        echo "sentinel resolve-hostnames yes"
        echo "sentinel announce-hostnames yes"
        if [ -n "${SENTINEL_ANNOUNCE_HOST:-}" ]; then
            echo "sentinel announce-ip $SENTINEL_ANNOUNCE_HOST"
        fi
        echo "sentinel monitor $name ${SENTINEL_MASTER_HOST:?the master's host name} ${SENTINEL_MASTER_PORT:-6379} ${SENTINEL_QUORUM:-2}"
        echo "sentinel down-after-milliseconds $name ${SENTINEL_DOWN_AFTER_MS:-2000}"
        echo "sentinel failover-timeout $name ${SENTINEL_FAILOVER_TIMEOUT_MS:-5000}"
        echo "sentinel parallel-syncs $name 1"
    } >"$tmp"
    mv "$tmp" "$conf"
fi

# As node.sh: through the official image's entrypoint where there is one.
if command -v docker-entrypoint.sh >/dev/null 2>&1; then
    exec docker-entrypoint.sh redis-server "$conf" --sentinel
fi
exec redis-server "$conf" --sentinel
