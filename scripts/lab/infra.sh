# shellcheck shell=bash
# The HA lab's infrastructure: etcd, two Patroni/PostgreSQL nodes, HAProxy, Garage (one or
# three nodes) and up to three `hostwright serve` nodes, all on 127.0.0.1, all state under
# $HWLAB. Sourced by scripts/ha-lab (which sets `set -euo pipefail`) and by the chaos part,
# which uses the functions below to start, stop and kill pieces.
#
# Rules the functions keep:
# - every process is started with `setsid` (it execs: `$!` stays the process's own PID, and
#   the process leaves the caller's session, so a Ctrl-C in a chaos run does not take the
#   infrastructure down with it) and its PID is written to $HWLAB/run/NAME.pid;
# - a process is only ever signalled through that PID, after checking it is still the same
#   process (its start time is kept next to the PID: PIDs are reused);
# - progress and warnings go to stderr, results to stdout.

LAB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HWLAB="${HWLAB:-/tmp/hostwright-lab}"

# Ports (all on 127.0.0.1).
LAB_ETCD_PORT=2379
LAB_ETCD_PEER_PORT=2380
LAB_PG_LB_PORT=15000 # HAProxy -> the Patroni primary
LAB_HTTP_PORT=18080  # HAProxy -> the app nodes (18081..18083)
LAB_S3_LB_PORT=3999  # HAProxy -> the Garage nodes' S3 ports
LAB_PG_BIN=/usr/lib/postgresql/15/bin
LAB_PG_PASSWORD=pgpass
LAB_S3_BUCKET=hostwright
LAB_S3_REGION=garage
LAB_APP_DRAIN_SECONDS="${HWLAB_DRAIN_SECONDS:-10}"
# The chaos run's customers sign up from one address, and its Stripe double listens here.
LAB_STRIPE_PORT=18090
# A short scheduler lease, so the lab sees a takeover in seconds (the default is 30).
LAB_AUTOMATION_LEASE_SECONDS="${HWLAB_AUTOMATION_LEASE_SECONDS:-15}"

lab_pg_port() { echo $((15431 + $1)); }         # pg1 15432, pg2 15433
lab_pg_rest_port() { echo $((18007 + $1)); }    # pg1 18008, pg2 18009
lab_app_port() { echo $((LAB_HTTP_PORT + $1)); } # app1 18081 ...
lab_garage_rpc_port() { echo $((3901 + 10 * ($1 - 1))); }
lab_garage_s3_port() { echo $((3900 + 10 * ($1 - 1))); }
lab_garage_admin_port() { echo $((3903 + 10 * ($1 - 1))); }

# --- small helpers ------------------------------------------------------------------------

lab_note() { printf '%s\n' "$*" >&2; }
lab_step() { printf '==> %s\n' "$*" >&2; }
lab_now() { date +%s.%N; }
lab_since() { awk -v a="$1" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }'; }

# The HTTP status of a request, "000" when nothing answered.
lab_http_code() {
  local url=$1 method=${2:-GET}
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X "$method" "$url" 2>/dev/null || true
}

# lab_wait SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds; 1 on timeout.
lab_wait() {
  local timeout=$1 start
  shift
  start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) - start >= timeout)); then return 1; fi
    sleep 0.2
  done
}

lab_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

lab_tail_log() {
  local log=$1
  lab_note "--- last lines of $log:"
  tail -n "${2:-30}" "$log" >&2 2>/dev/null || true
  lab_note "---"
}

# The number of Garage nodes: fixed at `up` (kept in HWLAB), HWLAB_GARAGE_NODES before that.
lab_garage_nodes() {
  if [ -f "$HWLAB/garage/nodes" ]; then cat "$HWLAB/garage/nodes"; else echo "${HWLAB_GARAGE_NODES:-1}"; fi
}

lab_garage_bin() {
  if command -v garage >/dev/null 2>&1; then
    command -v garage
  elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/garage" ]; then
    echo "${CARGO_HOME:-$HOME/.cargo}/bin/garage"
  else
    return 1
  fi
}

# The hostwright binary the nodes run, as an absolute path (relative to the repository).
lab_hostwright_bin() {
  local bin=${HWLAB_BIN:-target/release/hostwright}
  case $bin in /*) ;; *) bin="$LAB_REPO/$bin" ;; esac
  echo "$bin"
}

# --- processes by saved PID ---------------------------------------------------------------

lab_pidfile() { echo "$HWLAB/run/$1.pid"; }

# Field 22 of /proc/PID/stat (start time since boot); the command name may hold spaces, so
# count from the last ')'.
lab_proc_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'; }
lab_proc_state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $1 }'; }

lab_record_pid() {
  local name=$1 pid=$2
  echo "$pid" >"$(lab_pidfile "$name")"
  lab_proc_start "$pid" >"$HWLAB/run/$name.start" || true
}

# Prints the PID of NAME and succeeds while that very process is alive (not a zombie, not a
# newer process that got the same PID).
lab_pid() {
  local name=$1 pidfile pid state
  pidfile=$(lab_pidfile "$name")
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  state=$(lab_proc_state "$pid")
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  if [ -s "$HWLAB/run/$name.start" ] && [ "$(lab_proc_start "$pid")" != "$(cat "$HWLAB/run/$name.start")" ]; then
    return 1
  fi
  echo "$pid"
}

lab_alive() { lab_pid "$1" >/dev/null; }

# lab_signal_wait NAME SIGNAL SECONDS: signal NAME's saved PID and wait for it to exit.
# 0 when it is gone (or was not running), 1 when it is still alive after SECONDS.
lab_signal_wait() {
  local name=$1 signal=$2 timeout=$3 pid
  pid=$(lab_pid "$name") || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  lab_wait "$timeout" lab_gone "$name"
}

lab_gone() { ! lab_alive "$1"; }

# lab_kill NAME: SIGKILL a started process (a crash, not a stop); 0 when it is not running.
lab_kill() {
  local pid
  pid=$(lab_pid "$1") || {
    lab_note "$1 is not running"
    return 0
  }
  kill -KILL "$pid"
  lab_wait 5 lab_gone "$1" || true
  lab_note "killed $1 (pid $pid)"
}

# lab_stop NAME [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 20).
lab_stop() {
  local name=$1 timeout=${2:-20}
  lab_signal_wait "$name" TERM "$timeout" && return 0
  lab_note "$name did not stop within ${timeout}s after SIGTERM; sending SIGKILL"
  lab_signal_wait "$name" KILL 5
}

# lab_stop_many SECONDS NAME...: lab_stop for several at once (SIGTERM to all, then wait).
lab_stop_many() {
  local timeout=$1 name pid started
  shift
  for name in "$@"; do
    if pid=$(lab_pid "$name"); then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  started=$(date +%s)
  for name in "$@"; do
    lab_wait $((timeout - ($(date +%s) - started))) lab_gone "$name" && continue
    lab_note "$name did not stop within ${timeout}s after SIGTERM; sending SIGKILL"
    lab_signal_wait "$name" KILL 5 || return 1
  done
}

# lab_spawn NAME LOG COMMAND...: start COMMAND detached, output appended to LOG, PID saved.
lab_spawn() {
  local name=$1 log=$2 monitor=0
  shift 2
  # A second copy would be an orphan nobody stops (HAProxy would even share the ports).
  if lab_alive "$name"; then
    lab_note "$name is already running (pid $(lab_pid "$name"))"
    return 1
  fi
  # With job control on (an interactive shell that sourced this file) a background job leads
  # its own process group, and setsid would fork: the saved PID would be a wrapper's.
  if [[ $- == *m* ]]; then
    monitor=1
    set +m
  fi
  printf '=== %s: starting %s\n' "$(date -Is)" "$name" >>"$log" || return 1
  setsid "$@" </dev/null >>"$log" 2>&1 &
  lab_record_pid "$name" "$!" || return 1
  # Not a job of the caller's: no "Killed" notice in a chaos run's output when it dies.
  disown "$!"
  if ((monitor)); then set -m; fi
  return 0
}

# --- installation -------------------------------------------------------------------------

lab_apt_install() {
  lab_step "installing with apt: $*"
  if [ -z "${LAB_APT_UPDATED:-}" ]; then
    apt-get update -qq
    LAB_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Installs what is missing on a fresh Debian 12: the packages, and Garage from crates.io.
lab_install_deps() {
  local -a want=()
  command -v patroni >/dev/null || want+=(patroni)
  /usr/bin/python3 -c 'import etcd' 2>/dev/null || want+=(python3-etcd)
  /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || want+=(python3-psycopg2)
  command -v etcd >/dev/null || want+=(etcd-server)
  command -v etcdctl >/dev/null || want+=(etcd-client)
  command -v haproxy >/dev/null || want+=(haproxy)
  [ -x "$LAB_PG_BIN/postgres" ] || want+=(postgresql-15)
  command -v psql >/dev/null || want+=(postgresql-client-15)
  command -v curl >/dev/null || want+=(curl)
  command -v jq >/dev/null || want+=(jq)
  command -v socat >/dev/null || want+=(socat)
  command -v openssl >/dev/null || want+=(openssl)
  command -v ps >/dev/null || want+=(procps)
  if ((${#want[@]})); then lab_apt_install "${want[@]}"; fi
  if ! lab_garage_bin >/dev/null; then
    command -v cargo >/dev/null || {
      lab_note "Garage is missing and cargo is not installed: install Rust (rustup), then run this again"
      return 1
    }
    lab_step "building Garage 2.5.0 (cargo install; about 10 minutes on 2 cores)"
    cargo install garage --locked --version 2.5.0
  fi
}

lab_check_root() {
  [ "$(id -u)" = 0 ] || {
    lab_note "the lab needs root: it runs PostgreSQL as 'postgres' and the app nodes as 'nobody'"
    return 1
  }
}

lab_check_ports_free() {
  local -a busy=() ports=("$LAB_ETCD_PORT" "$LAB_ETCD_PEER_PORT" "$LAB_PG_LB_PORT" "$LAB_HTTP_PORT" "$LAB_S3_LB_PORT")
  local n p
  for n in 1 2; do ports+=("$(lab_pg_port "$n")" "$(lab_pg_rest_port "$n")"); done
  for n in 1 2 3; do ports+=("$(lab_app_port "$n")"); done
  for ((n = 1; n <= $(lab_garage_nodes); n++)); do
    ports+=("$(lab_garage_rpc_port "$n")" "$(lab_garage_s3_port "$n")" "$(lab_garage_admin_port "$n")")
  done
  for p in "${ports[@]}"; do lab_port_busy "$p" && busy+=("$p"); done
  if ((${#busy[@]})); then
    lab_note "ports already in use on 127.0.0.1: ${busy[*]}"
    return 1
  fi
}

# --- the lab directory --------------------------------------------------------------------

# HWLAB holds a marker so `down` never removes a directory the lab did not make.
lab_is_ours() { [ -f "$HWLAB/.hostwright-lab" ]; }

lab_any_alive() {
  local f
  for f in "$HWLAB"/run/*.pid; do
    [ -e "$f" ] || continue
    lab_alive "$(basename "$f" .pid)" && return 0
  done
  lab_orphan_postmasters | grep -q . && return 0
  return 1
}

lab_make_dirs() {
  local nodes
  nodes=$(lab_garage_nodes) # before the file it reads is created
  # HWLAB itself must be searchable: PostgreSQL runs as 'postgres', the app nodes as 'nobody'.
  mkdir -p "$HWLAB" && chmod 0755 "$HWLAB" && touch "$HWLAB/.hostwright-lab" &&
    mkdir -p "$HWLAB/run" "$HWLAB/logs" "$HWLAB/etcd" "$HWLAB/bin" "$HWLAB/patroni" "$HWLAB/pg" "$HWLAB/garage" &&
    chmod 0700 "$HWLAB/run" "$HWLAB/etcd" "$HWLAB/garage" &&
    chown postgres:postgres "$HWLAB/pg" "$HWLAB/patroni" && chmod 0700 "$HWLAB/pg" "$HWLAB/patroni" &&
    echo "$nodes" >"$HWLAB/garage/nodes" || return 1
  # The app nodes' working and data directory: owned by root, read-only for them, and
  # expected to stay empty (`status` checks it).
  mkdir -p "$HWLAB/ro" && chmod 0555 "$HWLAB/ro" || return 1
  # Every parent of HWLAB must let them through (not so under /root, for one).
  if ! setpriv --reuid=postgres --regid=postgres --init-groups test -x "$HWLAB/pg" ||
    ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$HWLAB/ro"; then
    lab_note "'postgres' or 'nobody' cannot reach $HWLAB: put HWLAB where every parent directory is world-searchable"
    return 1
  fi
  # One installation key for every node, as in a real cluster.
  (umask 077 && openssl rand -base64 32 >"$HWLAB/secret.key")
}

# --- etcd ---------------------------------------------------------------------------------

lab_etcd_start() {
  lab_spawn etcd "$HWLAB/logs/etcd.log" etcd --name lab --data-dir "$HWLAB/etcd" \
    --listen-client-urls "http://127.0.0.1:$LAB_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$LAB_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$LAB_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$LAB_ETCD_PEER_PORT" \
    --initial-cluster "lab=http://127.0.0.1:$LAB_ETCD_PEER_PORT" --initial-cluster-state new
}

lab_etcd_healthy() { curl -sf --max-time 1 "http://127.0.0.1:$LAB_ETCD_PORT/health" | grep -q '"health":"true"'; }

# --- PostgreSQL under Patroni -------------------------------------------------------------

# pg1 | pg2 | 1 | 2 -> 1 | 2
lab_pg_num() {
  case $1 in
    pg1 | 1) echo 1 ;;
    pg2 | 2) echo 2 ;;
    *)
      lab_note "unknown PostgreSQL node '$1' (pg1 or pg2)"
      return 1
      ;;
  esac
}

lab_patroni_config() {
  local n=$1 cfg="$HWLAB/patroni/patroni$1.yml" port rest
  port=$(lab_pg_port "$n")
  rest=$(lab_pg_rest_port "$n")
  # The same settings as deploy/patroni/patroni.yml (ttl 10, loop_wait 2, retry_timeout 4,
  # synchronous_mode), on loopback ports and with the lab's directories and passwords.
  (umask 077 && cat >"$cfg") <<EOF
scope: hostwright-lab
namespace: /service/
name: pg$n
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$LAB_ETCD_PORT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $HWLAB/pg/pg$n
  bin_dir: $LAB_PG_BIN
  pgpass: $HWLAB/pg/pgpass$n
  authentication:
    superuser: {username: postgres, password: $LAB_PG_PASSWORD}
    replication: {username: replicator, password: reppass}
    rewind: {username: rewinder, password: rewpass}
  parameters:
    unix_socket_directories: $HWLAB/pg
EOF
  [ -s "$cfg" ] && chown postgres:postgres "$cfg"
}

# Patroni as 'postgres' (PostgreSQL refuses root); setpriv execs, so the saved PID is
# Patroni's own.
lab_patroni_launch() {
  local n=$1
  lab_spawn "patroni$n" "$HWLAB/logs/patroni$n.log" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/postgresql LANG=C.UTF-8 \
    setpriv --reuid=postgres --regid=postgres --init-groups patroni "$HWLAB/patroni/patroni$n.yml"
}

lab_pg_role_is() { [ "$(lab_http_code "http://127.0.0.1:$(lab_pg_rest_port "$1")/$2" OPTIONS)" = 200 ]; }

# One node answers /primary and the other /sync: the cluster takes durable writes.
lab_pg_pair_ready() {
  { lab_pg_role_is 1 primary && lab_pg_role_is 2 sync; } || { lab_pg_role_is 2 primary && lab_pg_role_is 1 sync; }
}

# The postmaster of node N: line 1 of its postmaster.pid, if that process is a live postgres.
lab_postmaster_pid() {
  local pidfile="$HWLAB/pg/pg$1/postmaster.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(head -n 1 "$pidfile")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
  [ "$(lab_proc_state "$pid")" != Z ] || return 1
  echo "$pid"
}

# Nodes whose PostgreSQL runs without its Patroni (Patroni starts it detached).
lab_orphan_postmasters() {
  local n
  for n in 1 2; do
    if lab_postmaster_pid "$n" >/dev/null && ! lab_alive "patroni$n"; then echo "$n"; fi
  done
}

lab_pg_stop_orphan() {
  local n=$1
  lab_note "stopping pg$n's PostgreSQL, left running without Patroni (pg_ctl stop -m fast)"
  setpriv --reuid=postgres --regid=postgres --init-groups "$LAB_PG_BIN/pg_ctl" stop -m fast -w -t 30 \
    -D "$HWLAB/pg/pg$n" >/dev/null || true
}

lab_pg_url() { echo "postgres://postgres:$LAB_PG_PASSWORD@127.0.0.1:$LAB_PG_LB_PORT/${1:-hostwright}"; }

lab_psql_lb() { psql "$(lab_pg_url postgres)?connect_timeout=3" -v ON_ERROR_STOP=1 -qAtX "$@"; }

lab_create_database() {
  local exists
  exists=$(lab_psql_lb -c "SELECT 1 FROM pg_database WHERE datname = 'hostwright'") || return 1
  [ "$exists" = 1 ] || lab_psql_lb -c 'CREATE DATABASE hostwright' >/dev/null
}

# pg_primary_name: prints pg1 or pg2, the node whose Patroni answers /primary; 1 when none does.
pg_primary_name() {
  local n
  for n in 1 2; do
    if lab_pg_role_is "$n" primary; then
      echo "pg$n"
      return 0
    fi
  done
  return 1
}

# pg_kill NODE: SIGKILL NODE's Patroni, its postmaster and the postmaster's children at once
# (a crash of that machine). Prints what was killed on stderr.
pg_kill() {
  local n patroni postmaster
  local -a children=()
  n=$(lab_pg_num "$1") || return 1
  patroni=$(lab_pid "patroni$n") || patroni=""
  postmaster=$(lab_postmaster_pid "$n") || postmaster=""
  if [ -z "$patroni$postmaster" ]; then
    lab_note "pg$n is not running"
    return 0
  fi
  # Each backend leads a process group of its own, so the group cannot be signalled; left
  # alone they would linger until they notice their postmaster is gone.
  if [ -n "$postmaster" ]; then mapfile -t children < <(ps -o pid= --ppid "$postmaster" | tr -d ' '); fi
  kill -KILL ${patroni:+"$patroni"} ${postmaster:+"$postmaster"} "${children[@]}" 2>/dev/null || true
  lab_wait 5 lab_gone "patroni$n" || true
  lab_note "killed pg$n (patroni ${patroni:-none}, postmaster ${postmaster:-none}, ${#children[@]} children)"
}

# pg_kill_primary: kill the current primary as pg_kill does; prints its name (pg1/pg2).
# 1 when no node is primary.
pg_kill_primary() {
  local name
  name=$(pg_primary_name) || {
    lab_note "no PostgreSQL node is primary"
    return 1
  }
  pg_kill "$name"
  echo "$name"
}

# pg_start NODE [SECONDS]: start NODE's Patroni again and wait (default 120 s) until it is the
# sync standby (pg_rewind brings a former primary back) or, when the other node is down, the
# primary. Prints the role it came back as; 1 on timeout.
pg_start() {
  local n started
  n=$(lab_pg_num "$1") || return 1
  if lab_alive "patroni$n"; then
    lab_note "pg$n's Patroni is already running"
  else
    lab_patroni_launch "$n"
  fi
  started=$(lab_now)
  if ! lab_wait "${2:-120}" lab_pg_sync_or_primary "$n"; then
    lab_note "pg$n did not come back as sync standby or primary within ${2:-120}s"
    lab_tail_log "$HWLAB/logs/patroni$n.log"
    return 1
  fi
  if lab_pg_role_is "$n" primary; then echo primary; else echo sync; fi
  lab_note "pg$n is back after $(lab_since "$started") s"
}

lab_pg_sync_or_primary() { lab_pg_role_is "$1" sync || lab_pg_role_is "$1" primary; }

# The standby first, then the leader: stopped the other way round, the standby would see its
# leader vanish and try to take over while it is itself shutting down.
lab_patroni_stop_all() {
  local leader="" n
  leader=$(pg_primary_name) || leader=""
  for n in 1 2; do
    [ "pg$n" = "$leader" ] && continue
    lab_stop "patroni$n" 30
  done
  if [ -n "$leader" ]; then lab_stop "patroni${leader#pg}" 30; fi
  for n in $(lab_orphan_postmasters); do lab_pg_stop_orphan "$n"; done
}

# --- Garage -------------------------------------------------------------------------------

lab_garage() {
  local i=$1
  shift
  "$(lab_garage_bin)" -c "$HWLAB/garage/$i/garage.toml" "$@"
}

lab_garage_config() {
  local i=$1 rf=$2 secret=$3 token=$4 dir="$HWLAB/garage/$1"
  mkdir -p "$dir/meta" "$dir/data"
  # Mode 600: it holds the cluster's rpc_secret and admin token.
  (umask 077 && cat >"$dir/garage.toml") <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = $rf
rpc_bind_addr = "127.0.0.1:$(lab_garage_rpc_port "$i")"
rpc_public_addr = "127.0.0.1:$(lab_garage_rpc_port "$i")"
rpc_secret = "$secret"

[s3_api]
s3_region = "$LAB_S3_REGION"
api_bind_addr = "127.0.0.1:$(lab_garage_s3_port "$i")"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$(lab_garage_admin_port "$i")"
admin_token = "$token"
EOF
}

lab_garage_launch() {
  local i=$1
  lab_spawn "garage$i" "$HWLAB/logs/garage$i.log" "$(lab_garage_bin)" -c "$HWLAB/garage/$i/garage.toml" server
}

lab_garage_token() { sed -n 's/^admin_token = "\(.*\)"$/\1/p' "$HWLAB/garage/1/garage.toml"; }

# The cluster's health as node I sees it (JSON from the admin API).
lab_garage_health_json() {
  curl -sf --max-time 2 -H "Authorization: Bearer $(lab_garage_token)" \
    "http://127.0.0.1:$(lab_garage_admin_port "$1")/v2/GetClusterHealth"
}

lab_garage_connected() { [ "$(lab_garage_health_json 1 | jq -r .connectedNodes)" = "$2" ]; }
lab_garage_answers() { lab_garage "$1" status; }
lab_garage_ok() { [ "$(lab_http_code "http://127.0.0.1:$(lab_garage_admin_port "$1")/health")" = 200 ]; }

lab_garage_up() {
  local nodes i secret token id
  nodes=$(lab_garage_nodes)
  secret=$(openssl rand -hex 32)
  token=$(openssl rand -hex 24)
  for ((i = 1; i <= nodes; i++)); do
    lab_garage_config "$i" "$nodes" "$secret" "$token"
    lab_garage_launch "$i"
  done
  for ((i = 1; i <= nodes; i++)); do
    lab_wait 30 lab_garage_answers "$i" || {
      lab_note "garage$i did not start"
      lab_tail_log "$HWLAB/logs/garage$i.log"
      return 1
    }
  done
  # Node 1 introduces the others; each then learns the whole membership from it.
  for ((i = 2; i <= nodes; i++)); do
    id=$(lab_garage "$i" node id -q) && lab_garage 1 node connect "$id" >/dev/null || return 1
  done
  lab_wait 30 lab_garage_connected 1 "$nodes" || {
    lab_note "the Garage nodes did not all connect"
    return 1
  }
  # One zone per node: replication_factor 3 then puts a copy on each.
  for ((i = 1; i <= nodes; i++)); do
    id=$(lab_garage "$i" node id -q) && lab_garage 1 layout assign -z "dc$i" -c 1G "${id%@*}" >/dev/null || return 1
  done
  lab_garage 1 layout apply --version 1 >/dev/null || return 1
  for ((i = 1; i <= nodes; i++)); do
    lab_wait 30 lab_garage_ok "$i" || {
      lab_note "garage$i does not report a healthy cluster"
      return 1
    }
  done
  lab_garage_bucket
}

# The bucket and the app's key: a fixed-format key imported, so it is known without parsing.
lab_garage_bucket() {
  local key_id secret
  key_id="GK$(openssl rand -hex 12)"
  secret=$(openssl rand -hex 32)
  lab_garage 1 key import --yes -n hostwright "$key_id" "$secret" >/dev/null || return 1
  lab_wait 30 lab_garage 1 bucket create "$LAB_S3_BUCKET" || {
    lab_note "creating the bucket failed"
    return 1
  }
  lab_garage 1 bucket allow --read --write --owner "$LAB_S3_BUCKET" --key hostwright >/dev/null || return 1
  (umask 077 && printf 'S3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\n' "$key_id" "$secret" >"$HWLAB/garage/key")
}

lab_s3_key_id() { sed -n 's/^S3_ACCESS_KEY_ID=//p' "$HWLAB/garage/key"; }
lab_s3_secret() { sed -n 's/^S3_SECRET_ACCESS_KEY=//p' "$HWLAB/garage/key"; }

lab_check_garage_index() {
  local i=$1
  if ! [[ $i =~ ^[1-9]$ ]] || ((i > $(lab_garage_nodes))); then
    lab_note "no Garage node $i (the lab has $(lab_garage_nodes))"
    return 1
  fi
}

# garage_kill I: SIGKILL Garage node I.
garage_kill() {
  lab_check_garage_index "$1" || return 1
  lab_kill "garage$1"
}

# garage_start I [SECONDS]: start Garage node I again (same metadata: it rejoins the layout)
# and wait (default 60 s) until it reports the cluster usable, then up to 15 s more until it
# sees every node again. Prints nothing on stdout; 1 when it is not usable in time.
garage_start() {
  local i=$1 started state
  lab_check_garage_index "$i" || return 1
  if lab_alive "garage$i"; then
    lab_note "garage$i is already running"
  else
    lab_garage_launch "$i"
  fi
  started=$(lab_now)
  lab_wait "${2:-60}" lab_garage_ok "$i" || {
    lab_note "garage$i is not healthy after ${2:-60}s"
    lab_tail_log "$HWLAB/logs/garage$i.log"
    return 1
  }
  # /health is 200 for a degraded cluster too. When every node runs, wait (a little) until
  # each one sees all the others again: a node that saw two peers vanish keeps answering 503
  # until it has reconnected, and HAProxy keeps it out until then.
  if lab_garage_all_running; then lab_wait 20 lab_garage_all_healthy || true; fi
  state=$(lab_garage_health_json "$i" | jq -r '"\(.status), \(.connectedNodes)/\(.knownNodes) nodes connected"') || state=unknown
  lab_note "garage$i is back after $(lab_since "$started") s (cluster $state)"
}

lab_garage_healthy() { [ "$(lab_garage_health_json "$1" | jq -r .status)" = healthy ]; }

lab_garage_all_running() {
  local i
  for ((i = 1; i <= $(lab_garage_nodes); i++)); do lab_alive "garage$i" || return 1; done
}

lab_garage_all_healthy() {
  local i
  for ((i = 1; i <= $(lab_garage_nodes); i++)); do lab_garage_healthy "$i" || return 1; done
}

# --- HAProxy ------------------------------------------------------------------------------

# The lab's haproxy.cfg is deploy/haproxy/haproxy.cfg with loopback addresses: the same
# health checks, retry rules and timeouts are the ones under test. Added: the stats socket
# (the chaos part reads server states from it) and, since the deploy kit leaves the S3
# balancer to the operator, an S3 listener over the Garage nodes.
lab_haproxy_config() {
  local src="$LAB_REPO/deploy/haproxy/haproxy.cfg" out="$HWLAB/haproxy.cfg" i
  awk -v sock="$HWLAB/run/haproxy.sock" -v http="$LAB_HTTP_PORT" -v pg="$LAB_PG_LB_PORT" '
    function seconds(v,   n) {
      n = v + 0
      if (v ~ /ms$/) return n / 1000
      if (v ~ /m$/) return n * 60
      if (v ~ /h$/) return n * 3600
      return n
    }
    /^[a-z]/ { section = $1; name = $2 }
    section == "global" && $1 == "global" {
      print
      print "    stats socket " sock " mode 600 level admin"
      next
    }
    # Slow pages (reports, PDF batches) must not be cut off by the balancer.
    section == "defaults" && $1 == "timeout" && $2 == "server" && seconds($3) < 60 {
      print "    timeout server 60s"
      next
    }
    section == "frontend" && $1 == "bind" {
      if (!frontend_bind++) print "    bind 127.0.0.1:" http
      next
    }
    section == "backend" && name == "app" && $1 == "server" {
      if (!app_servers++) for (i = 1; i <= 3; i++) printf "    server app%d 127.0.0.1:%d check\n", i, http + i
      next
    }
    section == "listen" && name == "pg_primary" && $1 == "bind" { print "    bind 127.0.0.1:" pg; next }
    section == "listen" && name == "pg_primary" && $1 == "server" {
      if (!pg_servers++) for (i = 1; i <= 2; i++) printf "    server pg%d 127.0.0.1:%d check port %d\n", i, 15431 + i, 18007 + i
      next
    }
    { print }
  ' "$src" >"$out"
  {
    cat <<EOF

# --- S3: the Garage nodes (lab) ------------------------------------------------------------
# Health from each node's admin API (/health answers 503 when it cannot reach a quorum).
# A whole-object PUT is idempotent, so GET, HEAD and PUT may be resent to another node
# (those that fit in one buffer, read whole before a node is chosen, as for the app);
# POST (multipart completion) and DELETE only when the connection failed.
listen s3
    mode http
    bind 127.0.0.1:$LAB_S3_LB_PORT
    balance leastconn
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    option http-buffer-request
    retries 2
    option redispatch 1
    retry-on all-retryable-errors
    http-request disable-l7-retry unless METH_GET || { method PUT }
EOF
    for ((i = 1; i <= $(lab_garage_nodes); i++)); do
      echo "    server garage$i 127.0.0.1:$(lab_garage_s3_port "$i") check port $(lab_garage_admin_port "$i")"
    done
  } >>"$out"
  lab_haproxy_config_check "$out"
}

# The rewrite above depends on the deploy file's shape: fail loudly if it no longer matches.
lab_haproxy_config_check() {
  local cfg=$1 want
  for want in "bind 127.0.0.1:$LAB_HTTP_PORT" "bind 127.0.0.1:$LAB_PG_LB_PORT" "server app3 127.0.0.1:18083 check" \
    "server pg2 127.0.0.1:15433 check port 18009" "stats socket $HWLAB/run/haproxy.sock"; do
    grep -qF "$want" "$cfg" || {
      lab_note "$cfg lacks '$want': deploy/haproxy/haproxy.cfg changed shape; update lab_haproxy_config"
      return 1
    }
  done
  if grep -E '^\s*(bind|server) ' "$cfg" | grep -vq '127\.0\.0\.1'; then
    lab_note "$cfg would listen or connect beyond 127.0.0.1:"
    grep -E '^\s*(bind|server) ' "$cfg" | grep -v '127\.0\.0\.1' >&2
    return 1
  fi
  haproxy -c -q -f "$cfg"
}

# In the foreground (-db) so the saved PID is HAProxy's and its log lands in logs/.
lab_haproxy_start() {
  lab_spawn haproxy "$HWLAB/logs/haproxy.log" haproxy -db -f "$HWLAB/haproxy.cfg"
  lab_wait 10 test -S "$HWLAB/run/haproxy.sock"
}

# lab_haproxy_cmd COMMAND: one command on the stats socket (e.g. "show stat",
# "disable server app/app1"); prints the answer.
lab_haproxy_cmd() {
  [ -S "$HWLAB/run/haproxy.sock" ] || {
    lab_note "HAProxy's stats socket is missing"
    return 1
  }
  printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$HWLAB/run/haproxy.sock"
}

# haproxy_server_state BACKEND: one line per server of BACKEND (app, pg_primary, s3):
# "NAME STATUS", STATUS as HAProxy shows it with spaces as '_' (UP, DOWN, UP_1/2, DOWN_1/2,
# MAINT, NOLB, no_check). 1 when the backend is unknown or HAProxy does not answer.
haproxy_server_state() {
  local backend=$1 csv
  csv=$(lab_haproxy_cmd "show stat") || return 1
  awk -F, -v be="$backend" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") col = i; next }
    $1 == be && $2 != "FRONTEND" && $2 != "BACKEND" { st = $col; gsub(/ /, "_", st); print $2, st; found = 1 }
    END { exit !found }
  ' <<<"$csv"
}

lab_haproxy_routes() { haproxy_server_state "$1" | grep -q ' UP$'; }

# --- the app nodes ------------------------------------------------------------------------

lab_check_app_index() {
  [[ $1 =~ ^[123]$ ]] || {
    lab_note "app nodes are 1, 2 and 3 (got '$1')"
    return 1
  }
}

# The environment every node gets (and `app_admin_create`): one line KEY=VALUE each.
lab_app_env() {
  local n=${1:-1}
  cat <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LANG=C.UTF-8
HOME=$HWLAB/ro
TMPDIR=$HWLAB/ro
RUST_BACKTRACE=1
HOSTWRIGHT_LISTEN=127.0.0.1:$(lab_app_port "$n")
HOSTWRIGHT_BASE_URL=http://127.0.0.1:$LAB_HTTP_PORT/
HOSTWRIGHT_SECRET_KEY=$(cat "$HWLAB/secret.key")
HOSTWRIGHT_DATABASE_URL=$(lab_pg_url hostwright)
HOSTWRIGHT_DATA_DIR=$HWLAB/ro
HOSTWRIGHT_DRAIN_SECONDS=$LAB_APP_DRAIN_SECONDS
HOSTWRIGHT_TRUSTED_PROXIES=["127.0.0.1/32"]
HOSTWRIGHT_LOG_FORMAT=${HWLAB_LOG_FORMAT:-json}
HOSTWRIGHT_FILES__BACKEND=s3
HOSTWRIGHT_FILES__S3__BUCKET=$LAB_S3_BUCKET
HOSTWRIGHT_FILES__S3__REGION=$LAB_S3_REGION
HOSTWRIGHT_FILES__S3__ENDPOINT=http://127.0.0.1:$LAB_S3_LB_PORT
HOSTWRIGHT_FILES__S3__PATH_STYLE=true
HOSTWRIGHT_FILES__S3__ACCESS_KEY_ID=$(lab_s3_key_id)
HOSTWRIGHT_FILES__S3__SECRET_ACCESS_KEY=$(lab_s3_secret)
HOSTWRIGHT_PAYMENTS__STRIPE_API_BASE=http://127.0.0.1:$LAB_STRIPE_PORT/
HOSTWRIGHT_SECURITY__REQUESTS_PER_HOUR=1000000
HOSTWRIGHT_AUTOMATION_LEASE_SECONDS=$LAB_AUTOMATION_LEASE_SECONDS
EOF
  if [ -n "${RUST_LOG:-}" ]; then echo "RUST_LOG=$RUST_LOG"; fi
}

# The binary is copied into HWLAB (root-owned, readable by 'nobody'): a rebuild in the tree
# mid-run then changes nothing under the running nodes, and the next app_start picks it up.
lab_app_binary() {
  local src
  src=$(lab_hostwright_bin)
  [ -x "$src" ] || {
    lab_note "no hostwright binary at $src (build it with 'cargo build --release', or set HWLAB_BIN)"
    return 1
  }
  if ! cmp -s "$src" "$HWLAB/bin/hostwright"; then
    install -m 0755 "$src" "$HWLAB/bin/hostwright.new" && mv -f "$HWLAB/bin/hostwright.new" "$HWLAB/bin/hostwright" ||
      return 1
  fi
  echo "$HWLAB/bin/hostwright"
}

# A node sees every mount read-only (in a mount namespace of its own) and runs as 'nobody'
# in a root-owned 0555 directory: nothing it could write survives, and `status` can tell
# whether it tried. The log file is opened by the lab before, so it still writes there.
# Without mount namespaces (a restricted container) only the unprivileged user remains.
lab_app_cmd() {
  local -a envs=("$@")
  if [ "${HWLAB_APP_READONLY_FS:-1}" = 1 ] && unshare --mount true 2>/dev/null; then
    # shellcheck disable=SC2016 # expanded by the inner shell
    printf '%s\0' unshare --mount --propagation private -- sh -c '
      for mp in $(awk '\''{ print $5 }'\'' /proc/self/mountinfo); do
        mount -o remount,bind,ro "$mp" 2>/dev/null || echo "lab: $mp stays writable" >&2
      done
      exec "$@"' lab-readonly
  fi
  printf '%s\0' env -i -C "$HWLAB/ro" "${envs[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups
}

lab_app_launch() {
  local n=$1 bin
  shift
  lab_check_app_index "$n" || return 1
  if lab_alive "app$n"; then
    lab_note "app$n is already running (pid $(lab_pid "app$n"))"
    return 0
  fi
  bin=$(lab_app_binary) || return 1
  local -a envs cmd
  mapfile -t envs < <(lab_app_env "$n")
  envs+=("$@")
  mapfile -d '' -t cmd < <(lab_app_cmd "${envs[@]}")
  lab_spawn "app$n" "$HWLAB/logs/app$n.log" "${cmd[@]}" "$bin" serve
}

lab_app_ready() { [ "$(lab_http_code "http://127.0.0.1:$(lab_app_port "$1")/readyz")" = 200 ]; }
lab_app_ready_or_dead() { lab_app_ready "$1" || ! lab_alive "app$1"; }

lab_app_wait_ready() {
  local n=$1 timeout=${HWLAB_APP_READY_TIMEOUT:-60} started
  started=$(lab_now)
  lab_wait "$timeout" lab_app_ready_or_dead "$n" || true
  if lab_app_ready "$n"; then
    lab_note "app$n ready after $(lab_since "$started") s (pid $(lab_pid "app$n"))"
    return 0
  fi
  if lab_alive "app$n"; then
    lab_note "app$n is not ready after ${timeout}s: $(curl -s --max-time 2 "http://127.0.0.1:$(lab_app_port "$n")/readyz" || true)"
  else
    lab_note "app$n exited before it was ready"
  fi
  lab_tail_log "$HWLAB/logs/app$n.log"
  return 1
}

# app_start N [KEY=VALUE...]: start node N (1..3) on 127.0.0.1:1808N, extra environment
# appended (e.g. HOSTWRIGHT_JOB_WORKERS=8), and wait for its /readyz 200. 1 when it exits or
# is not ready within HWLAB_APP_READY_TIMEOUT (60 s); its log tail is printed then.
app_start() {
  local n=$1
  shift
  lab_app_launch "$n" "$@" || return 1
  lab_app_wait_ready "$n"
}

# app_stop N [SECONDS]: SIGTERM (the node drains) and wait for it to exit, by default the
# drain time plus 15 s. When it overstays it is killed and app_stop returns 1.
app_stop() {
  local n=$1 timeout=${2:-$((LAB_APP_DRAIN_SECONDS + 15))} started
  lab_check_app_index "$n" || return 1
  lab_alive "app$n" || {
    lab_note "app$n is not running"
    return 0
  }
  started=$(lab_now)
  if lab_signal_wait "app$n" TERM "$timeout"; then
    lab_note "app$n stopped $(lab_since "$started") s after SIGTERM"
    return 0
  fi
  lab_note "app$n still running ${timeout}s after SIGTERM; killing it"
  lab_signal_wait "app$n" KILL 5 || true
  return 1
}

# app_kill N: SIGKILL node N.
app_kill() {
  lab_check_app_index "$1" || return 1
  lab_kill "app$1"
}

# app_admin_create EMAIL PASSWORD [NAME]: a staff Administrator, made by the same binary and
# environment as the nodes (as 'nobody', read-only). Prints the command's output; its exit code.
app_admin_create() {
  local email=$1 password=$2 name=${3:-Lab Administrator} bin
  bin=$(lab_app_binary) || return 1
  local -a envs cmd
  mapfile -t envs < <(lab_app_env 1)
  mapfile -d '' -t cmd < <(lab_app_cmd "${envs[@]}")
  printf '%s\n' "$password" | "${cmd[@]}" "$bin" admin create --email "$email" --name "$name" --password-stdin
}

# Files the nodes made anyway: anything in HWLAB/ro, and anything owned by 'nobody' in the
# world-writable places created since the lab started. Prints them; 1 when there are any.
lab_app_writes() {
  local found
  found=$({
    find "$HWLAB/ro" -mindepth 1 2>/dev/null
    find /tmp /var/tmp /dev/shm /run/lock -xdev -user nobody -newer "$HWLAB/.hostwright-lab" 2>/dev/null
  } || true)
  [ -z "$found" ] || {
    printf '%s\n' "$found"
    return 1
  }
}

# --- for client scripts -------------------------------------------------------------------

# lab_env: `export` lines for a client or chaos script: eval "$(scripts/ha-lab env)".
lab_env() {
  local -a app_urls=()
  local i
  for i in 1 2 3; do app_urls+=("http://127.0.0.1:$(lab_app_port "$i")"); done
  local -A vars=(
    [HWLAB]=$HWLAB
    [HWLAB_BASE_URL]="http://127.0.0.1:$LAB_HTTP_PORT"
    [HWLAB_APP_URLS]="${app_urls[*]}"
    [HWLAB_PG_URL]=$(lab_pg_url hostwright)
    [HWLAB_PG_ADMIN_URL]=$(lab_pg_url postgres)
    [HWLAB_PG_NODE_URLS]="postgres://postgres:$LAB_PG_PASSWORD@127.0.0.1:15432/hostwright postgres://postgres:$LAB_PG_PASSWORD@127.0.0.1:15433/hostwright"
    [HWLAB_SECRET_KEY_FILE]="$HWLAB/secret.key"
    [HWLAB_APP_ENV_FILE]="$HWLAB/app.env"
    [HWLAB_HAPROXY_SOCKET]="$HWLAB/run/haproxy.sock"
    [HWLAB_LOGS]="$HWLAB/logs"
    [HWLAB_GARAGE_NODES]=$(lab_garage_nodes)
    [HWLAB_S3_ENDPOINT]="http://127.0.0.1:$LAB_S3_LB_PORT"
    [HWLAB_S3_REGION]=$LAB_S3_REGION
    [HWLAB_S3_BUCKET]=$LAB_S3_BUCKET
    [HWLAB_S3_ACCESS_KEY_ID]=$(lab_s3_key_id 2>/dev/null || true)
    [HWLAB_S3_SECRET_ACCESS_KEY]=$(lab_s3_secret 2>/dev/null || true)
    [HWLAB_BIN]=$(lab_hostwright_bin)
    [HWLAB_NODE_BIN]="$HWLAB/bin/hostwright"
  )
  local k
  for k in $(printf '%s\n' "${!vars[@]}" | sort); do
    printf 'export %s=%q\n' "$k" "${vars[$k]}"
  done
}

# --- up, down, status ---------------------------------------------------------------------

# lab_up: everything from empty directories. Refuses (2) when a lab is already running in
# HWLAB; a stopped one's leftovers are cleared first. 1 when something did not start. HWLAB_APPS app nodes are started (3;
# 0 for the infrastructure only).
lab_up() {
  local started apps=${HWLAB_APPS:-3} nodes=${HWLAB_GARAGE_NODES:-1} n
  started=$(lab_now)
  [[ $apps =~ ^[0-3]$ ]] || {
    lab_note "HWLAB_APPS must be 0..3"
    return 1
  }
  [[ $nodes =~ ^[13]$ ]] || {
    lab_note "HWLAB_GARAGE_NODES must be 1 or 3"
    return 1
  }
  lab_check_root || return 1
  if [ -e "$HWLAB" ]; then
    lab_is_ours || {
      lab_note "$HWLAB exists and is not a lab directory; choose another HWLAB"
      return 1
    }
    if lab_any_alive; then
      lab_note "the lab is already up in $HWLAB ('scripts/ha-lab down' first)"
      return 2
    fi
    lab_note "clearing the leftovers of a stopped lab in $HWLAB"
    lab_down_quiet || return 1
  fi
  lab_install_deps || return 1
  if ((apps > 0)); then
    [ -x "$(lab_hostwright_bin)" ] || {
      lab_note "no hostwright binary at $(lab_hostwright_bin): build it, set HWLAB_BIN, or use HWLAB_APPS=0"
      return 1
    }
  fi
  lab_check_ports_free || return 1

  lab_step "lab directory $HWLAB"
  lab_make_dirs || return 1

  lab_step "etcd"
  lab_etcd_start || return 1
  lab_wait 20 lab_etcd_healthy || {
    lab_tail_log "$HWLAB/logs/etcd.log"
    return 1
  }

  lab_step "Patroni pg1 and pg2 (PostgreSQL 15, synchronous replication)"
  for n in 1 2; do
    lab_patroni_config "$n" || return 1
    lab_patroni_launch "$n" || return 1
  done

  lab_step "HAProxy"
  lab_haproxy_config || return 1
  lab_haproxy_start || {
    lab_tail_log "$HWLAB/logs/haproxy.log"
    return 1
  }

  # Garage is set up while PostgreSQL bootstraps.
  lab_step "Garage ($nodes node(s))"
  lab_garage_up || return 1

  lab_step "waiting for a primary and a sync standby"
  lab_wait 90 lab_pg_pair_ready || {
    lab_note "no primary with a sync standby after 90 s"
    lab_tail_log "$HWLAB/logs/patroni1.log"
    lab_tail_log "$HWLAB/logs/patroni2.log"
    return 1
  }
  lab_note "primary: $(pg_primary_name)"
  lab_step "database 'hostwright' (through HAProxy's pg_primary)"
  lab_wait 20 lab_create_database || {
    lab_note "creating the database through 127.0.0.1:$LAB_PG_LB_PORT failed"
    lab_create_database
    return 1
  }

  # The nodes reach both through HAProxy: start them once it routes there, so their first
  # readiness answers are about themselves.
  lab_wait 20 lab_haproxy_routes pg_primary || lab_note "HAProxy has no pg_primary server UP yet"
  lab_wait 20 lab_haproxy_routes s3 || lab_note "HAProxy has no s3 server UP yet"

  (umask 077 && lab_app_env 1 | grep -v '^HOSTWRIGHT_LISTEN=' >"$HWLAB/app.env") || return 1
  if ((apps > 0)); then
    lab_step "app nodes 1..$apps"
    for ((n = 1; n <= apps; n++)); do lab_app_launch "$n" || return 1; done
    for ((n = 1; n <= apps; n++)); do lab_app_wait_ready "$n" || return 1; done
  fi
  lab_step "the lab is up ($(lab_since "$started") s): http://127.0.0.1:$LAB_HTTP_PORT/ - 'scripts/ha-lab env' for clients"
}

lab_down_quiet() {
  local n
  local -a garages=()
  for ((n = 1; n <= $(lab_garage_nodes); n++)); do garages+=("garage$n"); done
  # The app nodes drain together (they would otherwise take a drain time each).
  lab_stop_many $((LAB_APP_DRAIN_SECONDS + 15)) app1 app2 app3 || true
  lab_stop haproxy 10 || true
  lab_stop_many 20 "${garages[@]}" || true
  lab_patroni_stop_all || true
  lab_stop etcd 20 || true
  if lab_any_alive; then
    lab_note "some processes of the lab are still running; $HWLAB is kept"
    return 1
  fi
  rm -rf "$HWLAB"
}

# lab_down: stops everything (apps, HAProxy, Garage, the standby's Patroni, the leader's,
# orphaned postmasters, etcd) and removes HWLAB. 0 when nothing is left.
lab_down() {
  if [ ! -e "$HWLAB" ]; then
    lab_note "no lab in $HWLAB"
    return 0
  fi
  lab_is_ours || {
    lab_note "$HWLAB is not a lab directory; leaving it alone"
    return 1
  }
  lab_check_root || return 1
  lab_step "stopping the lab in $HWLAB"
  lab_down_quiet
  lab_step "the lab is down"
}

lab_status_line() {
  local name=$1 detail=${2:-} pid
  if pid=$(lab_pid "$name"); then
    printf '  %-9s up    pid %-8s %s\n' "$name" "$pid" "$detail"
  else
    printf '  %-9s DOWN  %-12s %s\n' "$name" "" "$detail"
    return 1
  fi
}

# lab_status: prints every component; 0 when all that were started run and the nodes wrote
# nothing locally, 1 otherwise (also when there is no lab).
lab_status() {
  local ok=0 n r be role code writes health
  if ! lab_is_ours; then
    echo "no lab in $HWLAB"
    return 1
  fi
  echo "lab in $HWLAB"
  echo "etcd"
  lab_status_line etcd "$(lab_etcd_healthy && echo healthy || echo unhealthy)" || ok=1
  echo "PostgreSQL (Patroni)"
  for n in 1 2; do
    role=down
    for r in primary sync replica; do
      if lab_pg_role_is "$n" "$r"; then
        role=$r
        break
      fi
    done
    lab_status_line "patroni$n" "pg$n role=$role postmaster=$(lab_postmaster_pid "$n" || echo none) :$(lab_pg_port "$n")" || ok=1
  done
  if lab_alive etcd; then
    timeout 5 patronictl -c "$HWLAB/patroni/patroni1.yml" list 2>/dev/null | sed 's/^/    /' || true
  fi
  echo "HAProxy"
  lab_status_line haproxy "http :$LAB_HTTP_PORT  pg :$LAB_PG_LB_PORT  s3 :$LAB_S3_LB_PORT" || ok=1
  if lab_alive haproxy; then
    for be in app pg_primary s3; do
      printf '    %-10s %s\n' "$be" "$(haproxy_server_state "$be" | tr '\n' ' ' || true)"
    done
  fi
  echo "Garage"
  for ((n = 1; n <= $(lab_garage_nodes); n++)); do
    code=$(lab_http_code "http://127.0.0.1:$(lab_garage_admin_port "$n")/health")
    lab_status_line "garage$n" "s3 :$(lab_garage_s3_port "$n") health=$code" || ok=1
  done
  for ((n = 1; n <= $(lab_garage_nodes); n++)); do
    if lab_alive "garage$n"; then
      health=$(lab_garage_health_json "$n" | jq -c '{status, connectedNodes, storageNodesUp, partitionsQuorum, partitions}' 2>/dev/null) || health=""
      echo "    cluster as garage$n sees it: ${health:-no answer}"
      break
    fi
  done
  echo "app nodes"
  for n in 1 2 3; do
    if [ -f "$(lab_pidfile "app$n")" ]; then
      code=$(lab_http_code "http://127.0.0.1:$(lab_app_port "$n")/readyz")
      lab_status_line "app$n" ":$(lab_app_port "$n") readyz=$code" || ok=1
    else
      printf '  %-9s never started\n' "app$n"
    fi
  done
  if writes=$(lab_app_writes); then
    echo "local writes by the nodes: none ($HWLAB/ro is empty)"
  else
    echo "local writes by the nodes (should be none):"
    printf '    %s\n' "$writes"
    ok=1
  fi
  return "$ok"
}
