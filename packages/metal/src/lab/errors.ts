/** Errors of `metal lab` a user can meet: each names the thing, the reason and the fix. */
export class LabSetupError extends Error {
  override name = "LabSetupError";
}
