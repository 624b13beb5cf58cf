/** One result of a preflight check (`metal check`, and what `metal install` refuses on). */
export interface Finding {
  readonly ok: boolean;
  /** What was checked and what was found. */
  readonly message: string;
  /** How to fix it; only on problems. */
  readonly fix?: string;
}
