/**
 * The HTTP URL layout of a network boot, in one place: the proxyDHCP answers point clients at
 * these paths, boot scripts name them, and the HTTP server routes them.
 */
import type { Mac } from "./mac.js";

const SCRIPTS = "/boot";
const BOOT_FILES = "/files";
const FIRST_STAGES = "/ipxe";
export const SCRIPT_SUFFIX = ".ipxe";
/** A machine's GRUB config sits next to its iPXE script: one decision, two languages. */
export const GRUB_CONFIG_SUFFIX = ".grub";
/** Directory of the per-machine boot files (iPXE scripts and GRUB configs). */
export const SCRIPT_DIRECTORY = SCRIPTS;

/** fastify route patterns for the three kinds of path below. */
export const BOOT_ROUTES = {
  script: `${SCRIPTS}/:script`,
  bootFile: `${BOOT_FILES}/:id/:name`,
  firstStage: `${FIRST_STAGES}/:name`,
  /** GRUB's prefix config for GRUB loaded by UEFI HTTP boot: its prefix is `(http,…)/grub`. */
  grubPrefixConfig: "/grub/grub.cfg",
} as const;

/** A machine's iPXE script. */
export function scriptPath(mac: string): string {
  return `${SCRIPTS}/${mac}${SCRIPT_SUFFIX}`;
}

/** A machine's GRUB config (GRUB's network image, the arm64 first stage). */
export function grubConfigPath(mac: string): string {
  return `${SCRIPTS}/${mac}${GRUB_CONFIG_SUFFIX}`;
}

/** A kernel or initrd a boot script named (ids: http/file-table.ts). */
export function bootFilePath(id: string, name: string): string {
  return `${BOOT_FILES}/${id}/${name}`;
}

/** A first-stage binary, for UEFI HTTP boot clients. */
export function firstStagePath(binary: string): string {
  return `${FIRST_STAGES}/${binary}`;
}

/** The iPXE script URL: iPXE is running already, so it gets its script, not a first stage. */
export function ipxeScriptUrl(httpBaseUrl: string, mac: Mac): string {
  return `${httpBaseUrl}${scriptPath(mac)}`;
}

/** Where UEFI HTTP boot clients fetch first-stage binaries. */
export function firstStageUrl(httpBaseUrl: string, binary: string): string {
  return `${httpBaseUrl}${firstStagePath(binary)}`;
}

/** `http://server:8080/` → `http://server:8080`: base URLs are joined with paths that start with "/". */
export function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === "/") end--;
  return url.slice(0, end);
}
