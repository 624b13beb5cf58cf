/**
 * GRUB configuration files for GRUB's network image, the first stage of arm64 UEFI machines
 * (ADR 0190). Pure: URLs and names in, config text out. Two files:
 *  - the prefix config, `grub/grub.cfg` over TFTP: GRUB's network image reads
 *    `$prefix/grub.cfg` with its prefix on the TFTP server it came from (`-p /grub`, measured
 *    with Debian's image: `(tftp,SERVER)/grub`). It only hands over to the machine's own config
 *    on the HTTP server, as MAAS's pre-loader config hands over to `grub.cfg-${net_default_mac}`
 *    (canonical/maas src/provisioningserver/boot/uefi_amd64.py, CONFIG_FILE);
 *  - the per-machine config, `/boot/{mac}.grub` over HTTP: the same decision and the same boot
 *    files as the iPXE script of that machine (http/server.ts renders both from one policy
 *    answer), written in GRUB's language.
 *
 * Quoting: every word we did not write ourselves is put in single quotes, inside which GRUB's
 * lexer copies everything up to the next `'` literally, `$` included (coreos/grub
 * grub-core/script/yylex.l, state SQUOTE). There is no escape inside single quotes, so text
 * holding `'` or a control character is refused with a ConfigError.
 */
import { ConfigError } from "../errors.js";

/** GRUB network devices are `(PROTOCOL,HOST[:PORT])` (grub-core/net/net.c, grub_net_open_real). */
const HTTP_BASE_URL = /^http:\/\/([^/?#\s]+)\/?$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** Where the prefix config lives, relative to the TFTP root (GRUB's network image: `-p /grub`). */
export const GRUB_PREFIX_CONFIG_PATH = "grub/grub.cfg";
/** Seconds the prefix config shows why it gave up before GRUB leaves for the next boot entry. */
export const GRUB_FAILURE_PAUSE_SECONDS = 5;

/** `'text'`, or a ConfigError naming `what` when GRUB could not read it back unchanged. */
export function grubQuote(text: string, what: string): string {
  if (text.includes("'") || CONTROL_CHARACTER.test(text))
    throw new ConfigError(
      `${what} ${JSON.stringify(text)} contains a single quote or a control character, which a ` +
        "GRUB config cannot quote; remove it",
    );
  return `'${text}'`;
}

/** The GRUB device for an `http://HOST:PORT` base URL: `(http,HOST:PORT)`. */
export function grubHttpDevice(httpBaseUrl: string): string {
  const match = HTTP_BASE_URL.exec(httpBaseUrl);
  if (!match?.[1])
    throw new ConfigError(
      `${httpBaseUrl} is not an http://HOST[:PORT] base URL, which GRUB's network device needs`,
    );
  return `(http,${match[1]})`;
}

function comment(text: string): string {
  if (CONTROL_CHARACTER.test(text))
    throw new ConfigError(`config title ${JSON.stringify(text)} contains a control character`);
  return `# ${text}`;
}

/**
 * The prefix config: fetch the machine's own config (`/boot/{mac}.grub`) over HTTP; if that
 * fails (the server does not boot this machine, or is gone), say so and `exit`, which returns
 * to the firmware and its next boot entry, as the iPXE scripts do.
 */
export function renderGrubPrefixConfig(httpBaseUrl: string, grubConfigDir: string): string {
  const device = grubHttpDevice(httpBaseUrl);
  return [
    comment("metal netboot: hand over to this machine's own config on the HTTP server"),
    `configfile ${device}${grubConfigDir}/\${net_default_mac}.grub`,
    `echo "netboot: no config for \${net_default_mac} at ${device}; leaving for the next boot entry"`,
    `sleep ${GRUB_FAILURE_PAUSE_SECONDS}`,
    "exit 1",
    "",
  ].join("\n");
}

export interface GrubBootConfig {
  readonly title: string;
  /** `(http,HOST:PORT)` device the paths below are on. */
  readonly device: string;
  /** Absolute URL paths (with query) on that device. */
  readonly kernelPath: string;
  readonly initrdPaths: readonly string[];
  readonly cmdline?: string | undefined;
}

/** Loads a kernel and its initrds over HTTP and boots them (`linux`, `initrd`, `boot`). */
export function renderGrubBootConfig(input: GrubBootConfig): string {
  const path = (urlPath: string, what: string) => grubQuote(`${input.device}${urlPath}`, what);
  const words = (input.cmdline ?? "").split(/\s+/).filter(Boolean);
  const linux = [
    "linux",
    path(input.kernelPath, "kernel path"),
    ...words.map((word) => grubQuote(word, "kernel command line word")),
  ].join(" ");
  const lines = [comment(input.title), `echo ${grubQuote(`Loading ${input.title}`, "title")}`];
  lines.push(linux);
  if (input.initrdPaths.length > 0)
    lines.push(
      ["initrd", ...input.initrdPaths.map((p, i) => path(p, `initrd path ${i + 1}`))].join(" "),
    );
  // Reached only when a load failed (boot does not return on success): leave for the next
  // boot entry rather than sit at a GRUB prompt.
  lines.push("boot", `sleep ${GRUB_FAILURE_PAUSE_SECONDS}`, "exit 1", "");
  return lines.join("\n");
}

/** Boots the local disk: `exit` returns to the firmware, which tries its next boot entry. */
export function renderGrubLocalBootConfig(title: string): string {
  return [comment(title), "exit 0", ""].join("\n");
}
