/**
 * Whether a process id names a running process: the one liveness probe of metal. Signal 0 checks existence and permission without delivering anything (kill(2)).
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
