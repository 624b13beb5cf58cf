#!/bin/sh
# A stand-in for nixos-anywhere in the fault tests, run by `metal install` through its command
# template: fake-install.sh DIR HOST ADDRESS EXTRA_FILES
#   DIR/invocations   one line per run ("HOST"), so a test counts how often each host ran
#   DIR/fail-once     hosts (one per line) whose first run fails
#   DIR/fail-always   hosts whose every run fails
#   DIR/hold          hosts whose run waits until DIR/release-HOST exists (to kill metal mid-install)
#   DIR/macs          "HOST MAC" lines: the MAC the first-boot report carries
#   DIR/no-first-boot hosts whose "installed system" never calls back
# On success it reports the "installed system's" first boot in the background, as the real
# one does after its reboot: with the token and URL from callback.env and the host's own key.
set -u
dir=$1 host=$2 address=$3 extra=$4
runs=$(grep -c "^$host\$" "$dir/invocations" 2>/dev/null)
runs=${runs:-0}
echo "$host" >> "$dir/invocations"
echo "fake install of $host, run $((runs + 1))"
if grep -qx "$host" "$dir/fail-always" 2>/dev/null; then echo "fatal: cannot partition (always)"; exit 7; fi
if grep -qx "$host" "$dir/fail-once" 2>/dev/null && [ "$runs" -eq 0 ]; then echo "fatal: disk busy (once)"; exit 5; fi
if grep -qx "$host" "$dir/hold" 2>/dev/null; then
  echo $$ > "$dir/pid-$host"
  until [ -e "$dir/release-$host" ]; do sleep 0.1; done
fi
if grep -qx "$host" "$dir/no-first-boot" 2>/dev/null; then echo "installed $host (silent)"; exit 0; fi
callback=$(sed -n 's/^METAL_CALLBACK=//p' "$extra/var/lib/metal/callback.env")
token=$(sed -n 's/^METAL_TOKEN=//p' "$extra/var/lib/metal/callback.env")
key=$(cat "$extra/etc/ssh/ssh_host_ed25519_key.pub")
mac=$(sed -n "s/^$host //p" "$dir/macs")
body="{\"agent\":\"fake/1\",\"mac\":\"$mac\",\"ip\":\"$address\",\"sshHostKey\":\"$key\"}"
(
  for attempt in $(seq 1 100); do
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' --data "$body" "$callback/first-boot")
    case "$status" in 200|4??) break ;; esac
    sleep 0.2
  done
) </dev/null >/dev/null 2>&1 &
echo "installed $host"
