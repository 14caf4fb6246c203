#!/bin/sh
# One Redis data node of deploy/docker-compose.ha.yml: the master or a replica.
#
#   sh node.sh [redis-server options...]
#
# On its first start it writes $REDIS_CONF (default /data/redis.conf, on the
# node's volume): its port, the hostname it announces to the master and the
# Sentinels, and, for a replica, `replicaof $REDIS_INITIAL_MASTER`. Later
# starts keep that file: after a failover Sentinel has rewritten it (CONFIG
# REWRITE) with the role it gave the node, so a restarted container rejoins
# as what it last was, not as what the compose file first made it. The
# options given (the durability settings) are added on every start.
#
# Environment: REDIS_ANNOUNCE_HOST (this node's name on the network),
# REDIS_INITIAL_MASTER and REDIS_INITIAL_MASTER_PORT (replicas only),
# REDIS_PORT (6379), REDIS_CONF.
set -eu

conf="${REDIS_CONF:-/data/redis.conf}"
if [ ! -s "$conf" ]; then
    tmp="$conf.new"
    {
        echo "port ${REDIS_PORT:-6379}"
        echo "dir $(dirname "$conf")"
        if [ -n "${REDIS_ANNOUNCE_HOST:-}" ]; then
            echo "replica-announce-ip $REDIS_ANNOUNCE_HOST"
        fi
        if [ -n "${REDIS_INITIAL_MASTER:-}" ]; then
            echo "replicaof $REDIS_INITIAL_MASTER ${REDIS_INITIAL_MASTER_PORT:-6379}"
        fi
    } >"$tmp"
    mv "$tmp" "$conf"
fi

# The official image's entrypoint hands the data directory to the redis user
# and drops root; elsewhere (the tests) redis-server runs as it is.
if command -v docker-entrypoint.sh >/dev/null 2>&1; then
    exec docker-entrypoint.sh redis-server "$conf" "$@"
fi
exec redis-server "$conf" "$@"
