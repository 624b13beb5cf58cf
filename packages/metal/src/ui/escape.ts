/**
 * The one escaping helper of every view (terminal progress, plain lines, JSON logs, the
 * dashboard). Text that machines on the LAN choose reaches the views: TFTP file names, DHCP
 * option strings (vendor and user class), HTTP paths, installer facts, install output. Shown
 * raw, an ESC sequence rewrites the admin's terminal (ECMA-48 CSI/OSC: clear the screen, retitle
 * the window, fake a "ready" line), a newline forges a log line, a C1 control is a one-byte CSI
 * on terminals that honour 8-bit controls, and a bidi override (Unicode UAX #9: U+202A–U+202E,
 * U+2066–U+2069) reorders what follows it on the screen and in the browser. Each such code
 * point becomes a visible `\xNN` / `\uNNNN` escape; everything else is kept as it came.
 */

/** C0 controls and DEL, C1 controls, and the bidi embedding, override, isolate and mark code points. */
// eslint-disable-next-line no-control-regex -- matching control characters is this module's job
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
/** The same but tab and line feed, for a page where text is text (the dashboard's textContent). */
const UNSAFE_EXCEPT_LINES =
  // eslint-disable-next-line no-control-regex -- as above
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

export interface EscapeOptions {
  /**
   * Keep tab and line feed: on a web page they are whitespace, and the inventory blocks the
   * dashboard offers to copy are several lines. A terminal or a log line never keeps them.
   */
  readonly keepLineBreaks?: boolean;
}

/** What the dashboard uses for everything it sends to the page. */
export const PAGE_TEXT: EscapeOptions = { keepLineBreaks: true };

function escapeCodePoint(character: string): string {
  const code = character.codePointAt(0)!;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every control and bidi code point made visible (`ESC` → `\x1b`). */
export function escapeControl(text: string, options: EscapeOptions = {}): string {
  return text.replace(options.keepLineBreaks ? UNSAFE_EXCEPT_LINES : UNSAFE, escapeCodePoint);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * A copy of a JSON-like value (events, snapshots) with every string, keys included, passed
 * through escapeControl; anything but plain objects, arrays and strings is kept as it is.
 */
export function escapeStrings<T>(value: T, options: EscapeOptions = {}): T {
  if (typeof value === "string") return escapeControl(value, options) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => escapeStrings(item, options)) as T;
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        escapeControl(key, options),
        escapeStrings(item, options),
      ]),
    ) as T;
  }
  return value;
}
