/** Errors of the boot side a user can meet. */
import { MetalError } from "../errors.js";

/** The installer artifacts directory is missing a file or holds an unusable one. */
export class InstallerArtifactsError extends MetalError {
  override readonly code: string = "BOOT_INSTALLER_ARTIFACTS";
  override readonly exit = "refused";
  constructor(
    readonly directory: string,
    readonly problems: readonly string[],
  ) {
    super(
      `installer directory ${directory}: ${problems.join("; ")}. Build it with \`nix build .#installer\` ` +
        "(or, in the virtual lab, let `metal lab` build its stand-in) and pass --installer DIR",
    );
  }
}
