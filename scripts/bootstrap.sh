#!/bin/sh
# Installs what the tests, the virtual lab and the benchmarks need on a fresh Debian 12 machine:
# Debian packages (only the missing ones, with apt-get) and the npm dependencies (npm ci, only
# when node_modules is missing or older than package-lock.json). Safe to run again: it then
# does nothing.
set -eu
cd "$(dirname "$0")/.."

# Protocol peers and lab parts. dnsmasq-base (not dnsmasq) has no service that would start
# answering DHCP on this machine's own interfaces.
PACKAGES="qemu-system-x86 qemu-utils ipxe-qemu ipxe ovmf dnsmasq-base busybox-static iproute2 cpio kmod
nftables tcpdump tshark atftp tftp-hpa tftpd-hpa nginx-light curl nix-bin fdisk dosfstools mtools
syslinux syslinux-common systemd-boot-efi gdisk binutils dropbear-bin openssh-client openssl age jq
chromium zstd xz-utils shellcheck git openipmi ipmitool efibootmgr qemu-system-arm qemu-efi-aarch64 grub-common
binutils-aarch64-linux-gnu"

# arm64 lab machines boot Debian's arm64 kernel, busybox and GRUB modules, which the lab fetches
# with `apt-get download PACKAGE:arm64` (packages/lab/src/arm64.ts): apt must know the arm64
# architecture. Nothing arm64 is installed on this machine.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: run as root (sudo) so dpkg can add the arm64 architecture" >&2
    exit 1
  fi
  echo "bootstrap: dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  apt-get update -qq
fi

missing=""
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages:$missing" >&2
    echo "bootstrap: run as root (sudo) so apt-get can install them" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages:$missing"
  # Servers installed only as test peers (tftpd-hpa, nginx) must not start on this machine's
  # interfaces: tell invoke-rc.d not to start any service while we install.
  policy_created=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  [ -n "$policy_created" ] && rm -f /usr/sbin/policy-rc.d
fi

sh scripts/build-cli.sh --deps-only
