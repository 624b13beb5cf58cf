#!/bin/sh
# metal-agent: the callback agent of docs/callback-protocol.md, in POSIX sh so that the same file
# runs in the NixOS netboot installer (systemd unit, curl) and in the virtual lab's busybox
# stand-in (busybox sh + busybox wget).
#
#   metal-agent.sh [installer]   report the installer's facts (§2), retry until answered
#   metal-agent.sh first-boot    report the installed system's first boot (§3), then delete
#                                the callback env file once its token is used up (200, 401)
#
# Exit codes: 0 accepted, 1 rejected by the server (400/401/409/other non-5xx; the reason is
# logged), 2 nothing to report with (no callback URL/token, unknown mode).
#
# Where the agent looks, overridable so tests can run it against fake trees:
#   METAL_CMDLINE       kernel command line file      (default /proc/cmdline)
#   METAL_SYS           sysfs root                    (default /sys)
#   METAL_PROC          procfs root                   (default /proc)
#   METAL_DEV           device root for disk/by-id    (default /dev)
#   METAL_SSH_HOST_KEY  host public key file          (default: first of /etc/ssh/ssh_host_
#                                                      {ed25519,ecdsa,rsa}_key.pub)
#   METAL_CALLBACK_ENV  first-boot env file           (default /var/lib/metal/callback.env)
#   METAL_BACKOFF_INITIAL_MS / METAL_BACKOFF_MAX_MS   retry delays (default 1000 / 30000)
#   METAL_HTTP_TIMEOUT_SECONDS                        one request's limit (default 30)
set -u

AGENT="metal-agent/1"
CMDLINE_FILE="${METAL_CMDLINE:-/proc/cmdline}"
SYS_ROOT="${METAL_SYS:-/sys}"
PROC_ROOT="${METAL_PROC:-/proc}"
DEV_ROOT="${METAL_DEV:-/dev}"
CALLBACK_ENV="${METAL_CALLBACK_ENV:-/var/lib/metal/callback.env}"
BACKOFF_INITIAL_MS="${METAL_BACKOFF_INITIAL_MS:-1000}"
BACKOFF_MAX_MS="${METAL_BACKOFF_MAX_MS:-30000}"
# A server that accepted the connection but never answers counts as no answer after this long.
HTTP_TIMEOUT_SECONDS="${METAL_HTTP_TIMEOUT_SECONDS:-30}"
SECTOR_BYTES=512
KIB_BYTES=1024
EXIT_REJECTED=1
EXIT_NOTHING_TO_REPORT=2
# docs/callback-protocol.md §2: every whole disk except these kernel name families.
SKIPPED_DISKS="loop* ram* zram* sr* md* dm-*"

log() {
  printf 'metal-agent: %s\n' "$*" >&2
}

# A JSON string literal. Control characters cannot occur in the facts we send (single-line
# sysfs/procfs values and OpenSSH key lines), so they are dropped rather than escaped.
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037\177' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

first_line() {
  [ -r "$1" ] || return 1
  head -n 1 "$1" | sed -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//'
}

cmdline_value() {
  key=$(printf '%s' "$1" | sed 's/\./\\./g')
  tr '\t' ' ' <"$CMDLINE_FILE" 2>/dev/null | tr -s ' ' '\n' | sed -n "s/^$key=//p" | tail -n 1
}

# BOOTIF=01-52-54-00-12-34-56 (pxelinux convention: ARP hardware type, then the MAC).
mac_from_bootif() {
  printf '%s' "${1#01-}" | tr 'A-F-' 'a-f:'
}

valid_token() {
  case "$1" in
    "" | *[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ "${#1}" -le 256 ]
}

host_of_url() {
  printf '%s' "$1" | sed -e 's|^[A-Za-z]*://||' -e 's|[/?#].*$||' -e 's|^.*@||' -e 's|:[0-9]*$||'
}

# The address and interface the kernel would use to reach the callback server: that is the
# address the server can reach us on, whatever DHCP or static configuration produced it.
route_field() {
  ip -4 route get "$1" 2>/dev/null | sed -n "s/.* $2 \([^ ]*\).*/\1/p" | head -n 1
}

ssh_host_key() {
  if [ -n "${METAL_SSH_HOST_KEY:-}" ]; then
    first_line "$METAL_SSH_HOST_KEY"
    return
  fi
  for kind in ed25519 ecdsa rsa; do
    if [ -r "/etc/ssh/ssh_host_${kind}_key.pub" ]; then
      first_line "/etc/ssh/ssh_host_${kind}_key.pub"
      return
    fi
  done
}

firmware() {
  if [ -d "$SYS_ROOT/firmware/efi" ]; then printf uefi; else printf bios; fi
}

memory_bytes() {
  kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' "$PROC_ROOT/meminfo" 2>/dev/null)
  printf '%s' "$((${kib:-0} * KIB_BYTES))"
}

is_skipped_disk() {
  for pattern in $SKIPPED_DISKS; do
    # shellcheck disable=SC2254 # the patterns are globs on purpose
    case "$1" in $pattern) return 0 ;; esac
  done
  return 1
}

disk_by_id_json() {
  links=""
  for link in "$DEV_ROOT"/disk/by-id/*; do
    [ -L "$link" ] || continue
    target=$(readlink "$link")
    [ "${target##*/}" = "$1" ] || continue
    links="${links:+$links,}$(json_string "/dev/disk/by-id/${link##*/}")"
  done
  printf '[%s]' "$links"
}

disk_json() {
  name=$1
  device="$SYS_ROOT/block/$name/device"
  sectors=$(first_line "$SYS_ROOT/block/$name/size") || sectors=0
  printf '{"name":%s,"path":%s,"sizeBytes":%s' \
    "$(json_string "$name")" "$(json_string "/dev/$name")" "$((${sectors:-0} * SECTOR_BYTES))"
  if model=$(first_line "$device/model") && [ -n "$model" ]; then
    printf ',"model":%s' "$(json_string "$model")"
  fi
  if serial=$(first_line "$device/serial") && [ -n "$serial" ]; then
    printf ',"serial":%s' "$(json_string "$serial")"
  fi
  printf ',"byId":%s}' "$(disk_by_id_json "$name")"
}

disks_json() {
  entries=""
  for block in "$SYS_ROOT"/block/*; do
    [ -e "$block" ] || continue
    name=${block##*/}
    is_skipped_disk "$name" && continue
    entries="${entries:+$entries,}$(disk_json "$name")"
  done
  printf '[%s]' "$entries"
}

random_below() {
  value=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
  printf '%s' "$((${value:-0} % $1))"
}

sleep_ms() {
  sleep "$(($1 / 1000)).$(printf '%03d' "$(($1 % 1000))")"
}

# Sends one POST; prints the HTTP status (000 when no answer came) and leaves the body in
# $response_file. busybox wget keeps no body on errors: then only the status is known.
post_once() {
  url=$1 token=$2 body=$3
  : >"$response_file"
  if command -v curl >/dev/null 2>&1; then
    status=$(curl --silent --show-error --max-time "$HTTP_TIMEOUT_SECONDS" --output "$response_file" \
      --write-out '%{http_code}' --request POST \
      --header "Authorization: Bearer $token" --header "Content-Type: application/json" \
      --data-binary "$body" "$url" 2>/dev/null) || true
    printf '%s' "${status:-000}"
  else
    # busybox 1.35's own timeout (-T, Debian 12 busybox-static) segfaults: a watchdog kills a
    # request that takes too long. Neither may hold this function's stdout (a command
    # substitution waits for every writer).
    wget -S -q -O "$response_file" \
      --header "Authorization: Bearer $token" --header "Content-Type: application/json" \
      --post-data "$body" "$url" >/dev/null 2>"$response_file.headers" &
    fetch=$!
    # The watchdog polls each second, so it ends by itself soon after the request does.
    (
      waited=0
      while [ "$waited" -lt "$HTTP_TIMEOUT_SECONDS" ] && kill -0 "$fetch"; do
        sleep 1
        waited=$((waited + 1))
      done
      kill "$fetch"
    ) >/dev/null 2>&1 &
    wait "$fetch"
    status=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$response_file.headers" | tail -n 1)
    rm -f "$response_file.headers"
    printf '%s' "${status:-000}"
  fi
}

response_body() {
  if [ -s "$response_file" ]; then cat "$response_file"; else printf '(no body)'; fi
}

# Waits with back-off: 1 s doubling to 30 s, each pause up to 25 % shorter at random so that many
# machines booting at once do not retry in lock-step. The delay grows across calls in one shell.
delay=$BACKOFF_INITIAL_MS
back_off() {
  pause=$((delay - $(random_below $((delay / 4 + 1)))))
  log "$1; retrying in $pause ms"
  sleep_ms "$pause"
  delay=$((delay * 2))
  if [ "$delay" -gt "$BACKOFF_MAX_MS" ]; then delay=$BACKOFF_MAX_MS; fi
}

# DHCP may still be running when the unit starts: wait until the kernel has a source address for
# the route to the server, as the protocol's `ip` field must not be empty.
address_towards() {
  while :; do
    address=$(route_field "$1" src)
    if [ -n "$address" ]; then
      printf '%s' "$address"
      return
    fi
    back_off "no IPv4 route to $1 yet"
  done
}

# sshd (or the lab's dropbear) may still be generating its host key: the server refuses facts
# without one, so wait for it.
ssh_host_key_when_ready() {
  while :; do
    key=$(ssh_host_key)
    if [ -n "$key" ]; then
      printf '%s' "$key"
      return
    fi
    back_off "no SSH host key yet (${METAL_SSH_HOST_KEY:-/etc/ssh/ssh_host_*_key.pub})"
  done
}

# Posts until the server gives a final answer, backing off while it cannot be reached or
# answers 5xx. Returns 0 on 200, 1 on any other final answer; leaves it in $final_status.
post_until_answered() {
  url=$1 token=$2 body=$3
  attempt=1
  while :; do
    status=$(post_once "$url" "$token" "$body")
    final_status=$status
    case "$status" in
      200)
        log "accepted by $url: $(response_body)"
        return 0
        ;;
      000 | 5??)
        if [ "$status" = 000 ]; then answer="no answer"; else answer="HTTP $status"; fi
        back_off "attempt $attempt: $answer from $url"
        attempt=$((attempt + 1))
        ;;
      *)
        log "rejected by $url with HTTP $status: $(response_body)"
        case "$status" in
          400) log "the agent sent facts the server does not understand; update metal-agent" ;;
          401) log "the token is unknown, used or expired; PXE-boot this machine again" ;;
          409) log "these facts contradict the inventory (MAC, disk); fix cluster.toml or the machine" ;;
        esac
        return 1
        ;;
    esac
  done
}

report_installer() {
  callback=$(cmdline_value metal.callback)
  token=$(cmdline_value metal.token)
  if [ -z "$callback" ] || [ -z "$token" ]; then
    log "no metal.callback=/metal.token= on the kernel command line ($CMDLINE_FILE): not booted by metal install, nothing to report"
    return "$EXIT_NOTHING_TO_REPORT"
  fi
  if ! valid_token "$token"; then
    log "metal.token on the kernel command line is not a token ([A-Za-z0-9._-], at most 256): check the iPXE script metal served"
    return "$EXIT_NOTHING_TO_REPORT"
  fi
  server=$(host_of_url "$callback")
  bootif=$(cmdline_value BOOTIF)
  if [ -n "$bootif" ]; then
    mac=$(mac_from_bootif "$bootif")
  else
    mac=$(first_line "$SYS_ROOT/class/net/$(route_field "$server" dev)/address") || mac=""
  fi
  hostname=$(first_line "$PROC_ROOT/sys/kernel/hostname") || hostname=""
  body=$(printf '{"agent":%s,"mac":%s,"ip":%s,"hostname":%s,"sshHostKey":%s,"firmware":%s,"memoryBytes":%s,"disks":%s}' \
    "$(json_string "$AGENT")" "$(json_string "$mac")" "$(json_string "$(address_towards "$server")")" \
    "$(json_string "$hostname")" "$(json_string "$(ssh_host_key_when_ready)")" "$(json_string "$(firmware)")" \
    "$(memory_bytes)" "$(disks_json)")
  post_until_answered "${callback%/}/installer" "$token" "$body" || return "$EXIT_REJECTED"
}

env_file_value() {
  sed -n "s/^$1=//p" "$CALLBACK_ENV" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

report_first_boot() {
  if [ ! -r "$CALLBACK_ENV" ]; then
    log "no $CALLBACK_ENV: this system was not installed by metal install, or it has reported already"
    return "$EXIT_NOTHING_TO_REPORT"
  fi
  callback=$(env_file_value METAL_CALLBACK)
  token=$(env_file_value METAL_TOKEN)
  if [ -z "$callback" ] || ! valid_token "$token"; then
    log "$CALLBACK_ENV lacks METAL_CALLBACK= or a valid METAL_TOKEN=: reinstall with metal install"
    return "$EXIT_NOTHING_TO_REPORT"
  fi
  server=$(host_of_url "$callback")
  mac=$(first_line "$SYS_ROOT/class/net/$(route_field "$server" dev)/address") || mac=""
  body=$(printf '{"agent":%s,"mac":%s,"ip":%s,"sshHostKey":%s}' \
    "$(json_string "$AGENT")" "$(json_string "$mac")" \
    "$(json_string "$(address_towards "$server")")" "$(json_string "$(ssh_host_key_when_ready)")")
  post_until_answered "${callback%/}/first-boot" "$token" "$body"
  answer=$?
  # 200 uses the token up and 401 says it is useless; after 400 or 409 it stays valid
  # (docs/decisions/0063), so the next boot can report again once the cause is fixed.
  case "$final_status" in
    200 | 401) rm -f "$CALLBACK_ENV" ;;
  esac
  [ "$answer" -eq 0 ] || return "$EXIT_REJECTED"
}

response_file=$(mktemp "${TMPDIR:-/tmp}/metal-agent.XXXXXX") || exit 1
trap 'rm -f "$response_file" "$response_file.headers"' EXIT

case "${1:-installer}" in
  installer) report_installer ;;
  first-boot) report_first_boot ;;
  *)
    log "unknown mode '$1': use 'installer' or 'first-boot'"
    exit "$EXIT_NOTHING_TO_REPORT"
    ;;
esac
