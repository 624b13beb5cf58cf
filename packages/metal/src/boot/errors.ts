/** Errors of the boot side a user can meet. */

/** The installer artifacts directory is missing a file or holds an unusable one. */
export class InstallerArtifactsError extends Error {
  override name = "InstallerArtifactsError";
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
