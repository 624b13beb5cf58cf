/**
 * What a foreign (non-host) ELF program needs to run, read from the file itself: there is no
 * `ldd` for arm64 binaries on an x86 host (ldd runs the program's own loader). `readelf -d` lists
 * the DT_NEEDED sonames and `readelf -l` the PT_INTERP loader (ELF gABI, "Dynamic Section" and
 * "Program Header"); both parsers are pure.
 */

/** Sonames of the DT_NEEDED entries in `readelf -d` output, in order. */
export function parseNeeded(readelfDynamic: string): string[] {
  const sonames: string[] = [];
  for (const match of readelfDynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]\s/]+)\]/g))
    sonames.push(match[1]!);
  return sonames;
}

/** The program interpreter named in `readelf -l` output; undefined for a static program. */
export function parseInterpreter(readelfProgramHeaders: string): string | undefined {
  return /\[Requesting program interpreter: (\/[^\]\s]+)\]/.exec(readelfProgramHeaders)?.[1];
}

/** Top-level package names of `apt-cache depends --recurse` output (indented lines are edges). */
export function parseRecursiveDepends(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9]+)?$/.test(line))
    .filter((name, index, all) => all.indexOf(name) === index);
}
