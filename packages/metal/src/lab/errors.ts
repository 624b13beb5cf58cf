/** Errors of `metal lab` a user can meet: each names the thing, the reason and the fix. */
import { MetalError } from "../errors.js";

export class LabSetupError extends MetalError {
  override readonly code: string = "LAB_SETUP";
}
