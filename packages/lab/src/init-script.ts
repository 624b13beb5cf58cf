/**
 * Shell text for a busybox initramfs: the PID 1 wrapper that survives a failing caller script,
 * the udhcpc event script, and a standard preamble (mounts, insmod, NIC up, DHCP, kernel
 * command line as variables) that callers append their own steps to.
 */

/** Where the caller's script lives in the initramfs; /init runs it as a child. */
export const LAB_SCRIPT_PATH = "/lab/init.sh";
/** Written by the udhcpc script: `net_interface=…`, `net_address=…`, `net_prefix=…`, `net_gateway=…`. */
export const DHCP_RESULT_PATH = "/run/lab-dhcp.env";
export const UDHCPC_SCRIPT_PATH = "/etc/udhcpc.script";
export const MODULE_DIRECTORY = "/lib/modules";
export const DROPBEAR_HOST_KEY_PATH = "/etc/dropbear/dropbear_ed25519_host_key";

const NIC_WAIT_SECONDS = 10;
const DHCP_ATTEMPTS = 10;
const DHCP_ATTEMPT_SECONDS = 2;

/**
 * PID 1. A failing `.` or `exit` in a script run as PID 1 kills it and panics the kernel (a
 * trap measured in LAB-NOTES), so the caller's script runs as a child; whatever it does, PID 1
 * reports how it ended on the console and powers the machine off (QEMU with -no-reboot exits).
 */
export const PID1_WRAPPER = `#!/bin/sh
/bin/sh ${LAB_SCRIPT_PATH}
echo "lab-init: ${LAB_SCRIPT_PATH} ended with status $?; powering off"
poweroff -f
`;

/** busybox udhcpc calls this with $1 = deconfig|bound|renew|nak and the lease in variables. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    gateway=""
    if [ -n "$router" ]; then
      gateway="\${router%% *}"
      ip route replace default via "$gateway" dev "$interface"
    fi
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    printf 'net_interface=%s\\nnet_address=%s\\nnet_prefix=%s\\nnet_gateway=%s\\n' \\
      "$interface" "$ip" "$mask" "$gateway" > ${DHCP_RESULT_PATH}
    ;;
esac
exit 0
`;

export interface InitPreambleOptions {
  /** Module names (files under /lib/modules) in load order. */
  readonly modules?: readonly string[];
  /** Bring up the first NIC and run DHCP (default true). */
  readonly dhcp?: boolean;
  /**
   * Wait for the first NIC and bring its link up, without DHCP, for scripts that configure a
   * static address on `$net_interface` themselves (default: only as part of `dhcp`).
   */
  readonly link?: boolean;
  /** Define `lab_start_sshd`, which starts dropbear and waits until port 22 listens. */
  readonly sshd?: boolean;
  /**
   * On a kernel started by UEFI firmware, load efivarfs (`efivarfs.ko` under /lib/modules,
   * LabKernel's `efivarfs`) and mount it where efibootmgr's libefivar looks for UEFI variables.
   */
  readonly efivars?: boolean;
}

/**
 * The kernel creates this mount point only when the firmware's runtime variable services are
 * usable (torvalds/linux drivers/firmware/efi/efi.c, `sysfs_create_mount_point(efi_kobj,
 * "efivars")`); the mount command is the one in Documentation/filesystems/efivarfs.rst.
 */
export const EFIVARS_MOUNT_POINT = "/sys/firmware/efi/efivars";

/**
 * The standard start of a lab script. Afterwards: every `key=value` word of the kernel command
 * line is in `$cmdline_key` (non-alphanumerics in the key become `_`), and with DHCP
 * `$net_interface`, `$net_address`, `$net_prefix`, `$net_gateway` are set (empty on failure).
 */
export function initPreamble(options: InitPreambleOptions = {}): string {
  const lines = [
    "#!/bin/sh",
    "export PATH=/sbin:/bin:/usr/sbin:/usr/bin",
    "mount -t proc proc /proc",
    "mount -t sysfs sysfs /sys",
    "mount -t devtmpfs devtmpfs /dev 2>/dev/null",
    "mkdir -p /dev/pts /run /tmp",
    "mount -t devpts devpts /dev/pts",
    "for word in $(cat /proc/cmdline); do",
    '  case "$word" in',
    "    *=*)",
    "      key=$(echo \"${word%%=*}\" | tr -c 'A-Za-z0-9_\\n' _)",
    '      eval "cmdline_$key=\\${word#*=}"',
    "      ;;",
    "  esac",
    "done",
  ];
  for (const name of options.modules ?? [])
    lines.push(`insmod ${MODULE_DIRECTORY}/${name}.ko || echo "lab-init: insmod ${name} failed"`);
  const dhcp = options.dhcp ?? true;
  if (dhcp || options.link)
    lines.push(
      'net_interface=""',
      `for attempt in $(seq ${NIC_WAIT_SECONDS * 5}); do`,
      "  for path in /sys/class/net/*; do",
      '    name="${path##*/}"',
      '    [ "$name" != lo ] && [ -e "$path" ] && net_interface="$name" && break',
      "  done",
      '  [ -n "$net_interface" ] && break',
      "  sleep 0.2",
      "done",
      'if [ -n "$net_interface" ]; then ip link set "$net_interface" up; else echo "lab-init: no network interface appeared"; fi',
    );
  if (dhcp)
    lines.push(
      'if [ -n "$net_interface" ]; then',
      `  udhcpc -i "$net_interface" -s ${UDHCPC_SCRIPT_PATH} -n -q -t ${DHCP_ATTEMPTS} -T ${DHCP_ATTEMPT_SECONDS} ` +
        '|| echo "lab-init: no DHCP lease on $net_interface"',
      "fi",
      // A missing file given to `.` would end this script: only source what exists.
      `if [ -r ${DHCP_RESULT_PATH} ]; then . ${DHCP_RESULT_PATH}; fi`,
      'echo "lab-init: interface=$net_interface address=$net_address"',
    );
  if (options.efivars)
    lines.push(
      `if [ -d ${EFIVARS_MOUNT_POINT} ]; then`,
      `  insmod ${MODULE_DIRECTORY}/efivarfs.ko && mount -t efivarfs efivarfs ${EFIVARS_MOUNT_POINT} ` +
        '|| echo "lab-init: efivarfs not mounted"',
      "fi",
    );
  if (options.sshd)
    lines.push(
      "lab_start_sshd() {",
      `  dropbear -s -r ${DROPBEAR_HOST_KEY_PATH} -p 22`,
      // dropbear forks before it listens; callers report "ready" only once it accepts.
      "  until netstat -ltn | grep -q ':22 '; do sleep 0.2; done",
      "}",
    );
  return lines.join("\n") + "\n";
}
