#!/usr/bin/env bash
# 10,000 concurrent echo connections with every byte checked, server and load in two
# processes (each holds 10,000 sockets; one process would need 20,000 descriptors).
#   scripts/echo-10k.sh ECHO_SERVER RINGO_LOAD [CONNECTIONS] [SECONDS]
# RINGO_BACKEND picks the backend of both; SERVER_FLAGS (default --shards 2) are the
# server's flags besides --addr. Exits non-zero if the server does not start in
# 10 s, if any connection fails, or if any echoed byte differs (ringo-load checks them).
set -euo pipefail
server_bin=$1 load_bin=$2 conns=${3:-10000} seconds=${4:-3}
log=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
# shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
"$server_bin" --addr 127.0.0.1:0 ${SERVER_FLAGS---shards 2} >"$log" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do  # the server prints its port once it listens: 10 s at most
  port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "echo-10k: the server did not say its port within 10 s:" >&2
  cat "$log" >&2
  exit 1
fi
"$load_bin" --addr "127.0.0.1:$port" -c "$conns" -s 64 -d "$seconds" --shards 2
