/**
 * Every error the lab kit throws on purpose. Each names the thing that failed, why, and what to
 * do about it, so a test failure or `metal lab` says how to fix the machine it runs on.
 */
export class LabError extends Error {
  /** The thrown class's own name (`SerialTimeoutError`, …), so no subclass repeats it as a string. */
  override name = this.constructor.name;
}

/** A host tool (apt-get, dpkg, mkfs.vfat, qemu, dnsmasq…) is missing or failed. */
export class HostToolError extends LabError {
  constructor(
    readonly tool: string,
    reason: string,
    readonly fix: string,
  ) {
    super(`${tool}: ${reason}. ${fix}`);
  }
}

/** Debian's kernel package could not be found, fetched or unpacked. */
export class KernelFetchError extends LabError {}

/** A spec the caller gave cannot work (a path with a comma for QEMU, a layout that does not fit…). */
export class LabConfigError extends LabError {}

/** The expected text did not appear on a machine's serial console in time. */
export class SerialTimeoutError extends LabError {
  constructor(
    readonly machine: string,
    readonly pattern: RegExp,
    readonly timeoutMs: number,
    readonly logTail: string,
  ) {
    super(
      `machine ${machine}: ${pattern} did not appear on its serial console within ${timeoutMs} ms; ` +
        `last serial output:\n${logTail}`,
    );
  }
}

/** QEMU exited while the caller was still waiting on the machine. */
export class MachineExitedError extends LabError {
  constructor(
    readonly machine: string,
    readonly detail: string,
    readonly logTail: string,
  ) {
    super(`machine ${machine}: QEMU exited (${detail}); last serial output:\n${logTail}`);
  }
}

/** QEMU's monitor (QMP) refused a command or the socket failed. */
export class QmpError extends LabError {}

/** A datagram that is not a Wake-on-LAN magic packet. */
export class MagicPacketError extends LabError {}
