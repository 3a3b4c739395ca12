#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /usr/lib/faultd/restart-between-runs: run by the package's scripts after an install or upgrade
# (.deb postinst, .rpm %posttrans). Restarts faultd.service onto the new files if, and only if,
# it was running, and between runs: while the agent reports a run (systemd STATUS "running <id>")
# it waits for the run to end, up to FAULTD_UPGRADE_WAIT seconds (default 300). A run still going
# after that is stopped by the restart, which aborts and reverts it (the stop half of
# `systemctl try-restart`), so an upgrade never leaves a fault in place. A fresh install (unit
# inactive or unknown) only reloads systemd.
set -u
unit=faultd.service
[ -d /run/systemd/system ] || exit 0
systemctl daemon-reload || true
systemctl is-active --quiet "$unit" || exit 0
limit=${FAULTD_UPGRADE_WAIT:-300}
waited=0
while :; do
  status=$(systemctl show -p StatusText --value "$unit" 2>/dev/null || true)
  case "$status" in
    running\ *) ;;
    *) break ;;
  esac
  if [ "$waited" -ge "$limit" ]; then
    echo "faultd: the agent is still $status after ${limit} s; restarting it now (the stop aborts and reverts the run)"
    break
  fi
  if [ "$waited" -eq 0 ]; then
    echo "faultd: the agent is $status; restarting $unit once the run ends (up to ${limit} s, FAULTD_UPGRADE_WAIT)"
  fi
  sleep 1
  waited=$((waited + 1))
done
systemctl try-restart "$unit"
echo "faultd: $unit restarted on the upgraded files ($(systemctl is-active "$unit" 2>/dev/null || true))"
