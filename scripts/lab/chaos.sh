# shellcheck shell=bash
# The chaos part of the HA lab: scripts/lab/chaos.py runs the customers and the failures
# against a lab that `scripts/ha-lab up` started; infra.sh is already sourced.

lab_chaos() {
  if ! lab_is_ours || ! lab_alive haproxy; then
    lab_note "no lab is up in $HWLAB: run 'scripts/ha-lab up' first"
    return 1
  fi
  # Debian's own Python with Debian's packages: nothing to build, nothing from the network
  # but apt.
  if ! /usr/bin/python3 -c 'import requests, psycopg2' 2>/dev/null; then
    lab_apt_install python3-requests python3-psycopg2
  fi
  eval "$(lab_env)"
  /usr/bin/python3 "$LAB_REPO/scripts/lab/chaos.py" "$@"
}
