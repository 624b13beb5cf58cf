/**
 * `sudo metal install` runs as root, yet the state it writes belongs to the user who typed sudo:
 * they run `metal status` and the next install without sudo. sudo(8) tells a command who invoked
 * it in SUDO_USER, SUDO_UID and SUDO_GID, and since sudo 1.9.16 in SUDO_HOME (sudo-project/sudo,
 * plugins/sudoers/env.c). This module is the one place that reads them.
 */
import { execFileSync } from "node:child_process";
import { homedir } from "node:os";
import { lchown, readdir, lstat } from "node:fs/promises";
import { join } from "node:path";
import { StateError } from "./errors.js";

const ROOT_UID = 0;
/** passwd(5): name:password:UID:GID:GECOS:directory:shell. */
const PASSWD_HOME_FIELD = 5;

export interface InvokingUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function numericId(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * The user behind `sudo`, when this process is root started by sudo for someone else; undefined
 * otherwise (a plain user, or root logged in as root).
 */
export function invokingUser(
  env: NodeJS.ProcessEnv = process.env,
  euid: number | undefined = process.geteuid?.(),
): InvokingUser | undefined {
  const uid = numericId(env.SUDO_UID);
  const gid = numericId(env.SUDO_GID);
  if (euid !== ROOT_UID || uid === undefined || gid === undefined || uid === ROOT_UID) return;
  if (!env.SUDO_USER) return;
  return { name: env.SUDO_USER, uid, gid };
}

/** The invoking user's home: SUDO_HOME when sudo set it, else their passwd entry (NSS included). */
function homeOfInvokingUser(user: InvokingUser, env: NodeJS.ProcessEnv): string {
  if (env.SUDO_HOME) return env.SUDO_HOME;
  let entry: string;
  try {
    entry = execFileSync("getent", ["passwd", user.name], { encoding: "utf8" });
  } catch {
    throw new StateError(
      `cannot find the home directory of ${user.name}, who ran sudo (\`getent passwd ${user.name}\` failed); ` +
        "pass --secrets-dir DIR (or set METAL_SECRETS_DIR) to say where the keys are",
    );
  }
  return entry.trim().split(":")[PASSWD_HOME_FIELD] ?? homedir();
}

/** Whose home the per-user files (the secrets directory) live in: the sudo caller's, else ours. */
export function userHome(env: NodeJS.ProcessEnv = process.env, euid?: number): string {
  const user = invokingUser(env, euid ?? process.geteuid?.());
  return user ? homeOfInvokingUser(user, env) : homedir();
}

/**
 * Gives everything under `directory` (itself included) that root created back to the sudo
 * caller. Entries owned by anyone else are left alone, and links are never followed (lchown),
 * so a link planted in the state directory cannot turn this into a chown of another file.
 */
export async function handOverToInvokingUser(
  directory: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const user = invokingUser(env);
  if (!user) return;
  const entries = [
    directory,
    ...(await readdir(directory, { recursive: true }).catch(() => [] as string[])).map((entry) =>
      join(directory, entry),
    ),
  ];
  for (const entry of entries) {
    const info = await lstat(entry).catch(() => undefined);
    if (info?.uid === ROOT_UID) await lchown(entry, user.uid, user.gid).catch(() => undefined);
  }
}

/** The state file exists but this user may not read it: not a damaged file, a permission. */
export class StatePermissionError extends StateError {
  override readonly code: string = "STATE_FILE_NOT_READABLE";
  override readonly exit = "refused";
  constructor(
    readonly file: string,
    code: string,
  ) {
    super(
      `state file ${file} cannot be read by this user (${code}: permission denied); it is intact. ` +
        "It was probably written by a metal run as root: run this command with sudo, or take the " +
        `state back with \`sudo chown -R "$(id -u):$(id -g)" ${join(file, "..")}\``,
    );
  }
}
