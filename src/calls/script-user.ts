import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The user scripts run as (SCRIPT_RUN_AS_USER), resolved to numbers once at start. */
export interface ScriptUser {
  readonly uid: number;
  readonly gid: number;
  /** For messages: the name, or the number when no name is known. */
  readonly label: string;
}

/** A reason the service may not run script handlers as configured; it refuses to start. */
export class ScriptUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptUserError';
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function passwdEntries(passwdFile: string): PasswdEntry[] {
  let text: string;
  try {
    text = readFileSync(passwdFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[2]!) && /^\d+$/.test(fields[3]!))
    .map((fields) => ({ name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]) }));
}

/** Users known only to NSS (LDAP, sssd) are not in /etc/passwd; `id` asks NSS. */
function idLookup(name: string): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isSafeInteger(uid) && Number.isSafeInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

/**
 * SCRIPT_RUN_AS_USER: a user name (looked up in /etc/passwd, then through `id`), or `uid` or
 * `uid:gid` (a uid alone takes its passwd group, or the same number). Root is refused: the
 * point is a user that cannot read the service's memory, environment or files.
 */
export function resolveScriptUser(spec: string, passwdFile = '/etc/passwd'): ScriptUser {
  const text = spec.trim();
  const entries = passwdEntries(passwdFile);
  let user: ScriptUser;
  const numeric = /^(\d+)(?::(\d+))?$/.exec(text);
  if (numeric) {
    const uid = Number(numeric[1]);
    const entry = entries.find((e) => e.uid === uid);
    const gid = numeric[2] !== undefined ? Number(numeric[2]) : (entry?.gid ?? uid);
    user = { uid, gid, label: entry ? `${entry.name} (uid ${uid})` : `uid ${uid}` };
  } else {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(text)) {
      throw new ScriptUserError(`SCRIPT_RUN_AS_USER: "${text}" is neither a user name nor uid[:gid]`);
    }
    const entry = entries.find((e) => e.name === text) ?? (() => {
      const found = idLookup(text);
      return found ? { name: text, ...found } : undefined;
    })();
    if (!entry) throw new ScriptUserError(`SCRIPT_RUN_AS_USER: there is no user named "${text}" on this host`);
    user = { uid: entry.uid, gid: entry.gid, label: `${entry.name} (uid ${entry.uid})` };
  }
  if (user.uid === 0 || user.gid === 0) {
    throw new ScriptUserError(`SCRIPT_RUN_AS_USER: ${user.label} is root or in group 0; scripts must run as an unprivileged user`);
  }
  return user;
}

/**
 * Decides, at start, who scripts run as. Scripts could otherwise read the service's secrets
 * (its environment through /proc/<pid>/environ, its files), so a service running as root
 * refuses to start with script handlers enabled and no SCRIPT_RUN_AS_USER, rather than run
 * them as root or silently switch them off. Returns undefined when scripts run as the
 * service's own (non-root) user, which the caller warns about.
 */
export function scriptUserAtStart(
  scripts: { enabled: boolean; runAsUser?: string },
  serviceUid: number | undefined = process.getuid?.(),
): ScriptUser | undefined {
  if (!scripts.enabled) return undefined;
  if (scripts.runAsUser === undefined || scripts.runAsUser.trim() === '') {
    if (serviceUid === 0) {
      throw new ScriptUserError(
        'SCRIPT_HANDLERS_ENABLED=true while the service runs as root: set SCRIPT_RUN_AS_USER to an unprivileged user ' +
          '(e.g. nobody, or uid:gid) for scripts to run as, or run the service as a user of its own. ' +
          'Scripts running as the service could read its secrets (BOOTSTRAP_ADMIN_KEY, DATABASE_URL) through /proc.',
      );
    }
    return undefined;
  }
  const user = resolveScriptUser(scripts.runAsUser);
  if (serviceUid !== undefined && serviceUid !== 0 && serviceUid !== user.uid) {
    throw new ScriptUserError(`SCRIPT_RUN_AS_USER=${scripts.runAsUser}: switching to ${user.label} needs the service to run as root`);
  }
  return user;
}

/** Whether the user may `want` (r=4, w=2, x=1) the file, by its mode bits (ACLs are not read). */
function permits(user: ScriptUser, path: string, want: number): boolean {
  const stat = statSync(path);
  const bits = stat.uid === user.uid ? (stat.mode >> 6) & 7 : stat.gid === user.gid ? (stat.mode >> 3) & 7 : stat.mode & 7;
  return (bits & want) === want;
}

/**
 * Why `user` could not run the script at `path` (a resolved real path), or null: every folder
 * on the way must be searchable (x) by it, and the script readable and executable (a shell or
 * Node script is read by its interpreter). Only the user's primary group counts: supplementary
 * groups are dropped when a script is spawned as another user.
 */
export function scriptAccessProblem(path: string, user: ScriptUser): string | null {
  const folders: string[] = [];
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    folders.unshift(folder);
    if (dirname(folder) === folder) break;
  }
  for (const folder of folders) {
    if (!permits(user, folder, 1)) {
      return `scripts run as ${user.label}, who cannot enter the folder ${folder} (it needs o+x, or that user as owner or group)`;
    }
  }
  if (!permits(user, path, 5)) {
    return `scripts run as ${user.label}, who cannot read and execute ${path} (it needs o+rx, or that user as owner or group)`;
  }
  return null;
}
