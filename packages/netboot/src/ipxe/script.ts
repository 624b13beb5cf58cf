/**
 * iPXE scripts, rendered as text. Pure: URLs and names in, script text out; nothing here reads
 * files or knows where the server lives.
 *
 * iPXE's script language has no quoting and no escape for `${`: every line is split on
 * whitespace, a token `&&`, `||` or `;` ends a command, a token starting with `#` starts a
 * comment and `${name}` is expanded anywhere (iPXE src/core/exec.c, settings.c). Text that would
 * be misread that way is refused with a ConfigError instead of producing a script that boots
 * something else than the caller asked for.
 */
import { ConfigError } from "../errors.js";

/** How often a failed download is retried before the script gives up, and how long it waits. */
export interface FetchRetry {
  readonly attempts: number;
  readonly delaySeconds: number;
}

/**
 * Five tries five seconds apart ride out a server restart or a busy link without leaving a
 * machine at the iPXE prompt for long when something is really broken.
 */
export const DEFAULT_FETCH_RETRY: FetchRetry = { attempts: 5, delaySeconds: 5 };

export interface ScriptInitrd {
  /**
   * The image name iPXE registers the initrd under. UEFI kernels find their initrds through the
   * EFI stub, which loads exactly the files named by `initrd=NAME` arguments.
   */
  readonly name: string;
  readonly url: string;
}

export interface BootScript {
  /** Shown in a comment at the top, so a script saved from a log says whom it was for. */
  readonly title: string;
  readonly kernelUrl: string;
  readonly initrds: readonly ScriptInitrd[];
  readonly cmdline?: string | undefined;
  readonly retry?: FetchRetry | undefined;
}

const SHEBANG = "#!ipxe";
// Control characters break a script line (newline) or are not meant for a command line at all.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const WHITESPACE = /\s/;
const COMMAND_TERMINATORS = new Set(["&&", "||", ";"]);
/** Names that stay one token in iPXE, in a kernel command line and in a URL path. */
const IMAGE_NAME = /^[A-Za-z0-9._+-]+$/;

/** Refuses text iPXE would not pass through unchanged (see the module comment). */
function assertVerbatim(text: string, what: string): void {
  if (CONTROL_CHARACTER.test(text)) {
    throw new ConfigError(
      `${what} ${JSON.stringify(text)} contains a line break or control character, which would ` +
        `split the iPXE script line; remove it`,
    );
  }
  if (text.includes("${")) {
    throw new ConfigError(
      `${what} ${JSON.stringify(text)} contains "\${", which iPXE expands as a setting and ` +
        `cannot escape; remove it or pass the value another way`,
    );
  }
}

function assertUrl(url: string, what: string): void {
  assertVerbatim(url, what);
  if (url.length === 0 || WHITESPACE.test(url)) {
    throw new ConfigError(`${what} ${JSON.stringify(url)} must be one non-empty word`);
  }
}

/** Checks a kernel command line: iPXE must hand it to the kernel as written. */
export function assertIpxeSafeCmdline(cmdline: string): void {
  assertVerbatim(cmdline, "kernel command line");
  for (const token of cmdline.split(/\s+/)) {
    if (COMMAND_TERMINATORS.has(token) || token.startsWith("#")) {
      throw new ConfigError(
        `kernel command line ${JSON.stringify(cmdline)} contains the word "${token}", which ` +
          `iPXE reads as the end of the command or a comment; remove it`,
      );
    }
  }
}

function assertImageName(name: string): void {
  if (!IMAGE_NAME.test(name)) {
    throw new ConfigError(
      `initrd name ${JSON.stringify(name)} must consist of letters, digits and . _ + - only`,
    );
  }
}

/**
 * Wraps commands that download in a bounded retry loop. Any failing command jumps to `retry`,
 * which frees what was loaded, waits and starts over; after the last attempt the script exits
 * so the firmware moves on to its next boot entry instead of sitting at a prompt. An unhandled
 * failure would abort the script, hence `||` after every command that may fail.
 */
function withRetry(commands: readonly string[], retry: FetchRetry): string[] {
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new ConfigError(`retry attempts must be a positive integer, got ${retry.attempts}`);
  }
  if (!Number.isInteger(retry.delaySeconds) || retry.delaySeconds < 0) {
    throw new ConfigError(
      `retry delay must be a whole number of seconds >= 0, got ${retry.delaySeconds}`,
    );
  }
  return [
    "set attempt:int32 0",
    ":fetch",
    ...commands.map((command) => `${command} || goto retry`),
    ":retry",
    "imgfree",
    "inc attempt",
    `iseq \${attempt} ${retry.attempts} && goto give_up ||`,
    `echo Download failed (attempt \${attempt} of ${retry.attempts}), retrying in ${retry.delaySeconds} s`,
    `sleep ${retry.delaySeconds}`,
    "goto fetch",
    ":give_up",
    `echo Giving up after ${retry.attempts} attempts, trying the next boot device`,
    "exit 1",
  ];
}

function comment(text: string): string {
  assertVerbatim(text, "script title");
  return `# ${text}`;
}

function script(lines: readonly string[]): string {
  return [SHEBANG, ...lines].join("\n") + "\n";
}

/**
 * Loads a kernel and its initrds over HTTP and boots them, on BIOS and UEFI alike: `initrd=NAME`
 * on the kernel line for each initrd (the EFI stub needs them; BIOS kernels ignore them), then
 * one `initrd --name NAME URL` per initrd, then `boot`.
 */
export function renderBootScript(input: BootScript): string {
  assertUrl(input.kernelUrl, "kernel URL");
  const names = new Set<string>();
  for (const initrd of input.initrds) {
    assertImageName(initrd.name);
    assertUrl(initrd.url, `initrd URL for ${initrd.name}`);
    if (names.has(initrd.name)) {
      throw new ConfigError(`two initrds are named ${initrd.name}; initrd names must be unique`);
    }
    names.add(initrd.name);
  }
  assertIpxeSafeCmdline(input.cmdline ?? "");
  const cmdline = input.cmdline?.trim() ?? "";

  const kernelArgs = [...input.initrds.map((initrd) => `initrd=${initrd.name}`), cmdline];
  const kernelLine = ["kernel", input.kernelUrl, ...kernelArgs].filter(Boolean).join(" ");
  return script([
    comment(input.title),
    ...withRetry(
      [
        kernelLine,
        ...input.initrds.map((initrd) => `initrd --name ${initrd.name} ${initrd.url}`),
        "boot",
      ],
      input.retry ?? DEFAULT_FETCH_RETRY,
    ),
  ]);
}

/**
 * Boots the local disk. `exit` hands control back to the firmware, which tries its next boot
 * entry; `sanboot --drive 0x80` would only work on BIOS, where the disk is drive 0x80.
 */
export function renderLocalBootScript(title: string): string {
  return script([
    comment(title),
    "# Leave iPXE: the firmware falls through to its next boot entry (the local disk).",
    "exit",
  ]);
}

/** Hands over to another script or binary, with the same bounded retries as a boot. */
export function renderChainScript(
  title: string,
  url: string,
  retry: FetchRetry = DEFAULT_FETCH_RETRY,
): string {
  assertUrl(url, "chain URL");
  return script([comment(title), ...withRetry([`chain --autofree ${url}`], retry)]);
}
