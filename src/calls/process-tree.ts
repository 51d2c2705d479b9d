import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

interface ProcStat {
  pid: number;
  zombie: boolean;
  ppid: number;
  pgrp: number;
  session: number;
}

/** Fields 4–6 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state; a zombie has already ended and only waits to be reaped.
    return { pid, zombie: fields[0] === 'Z', ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) };
  } catch {
    return null;
  }
}

function livePids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

function holdsAny(pid: number, links: ReadonlySet<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (links.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * What a file descriptor refers to, as /proc shows it (`socket:[inode]`, `pipe:[inode]`), for
 * the stdio ends a child was given: Node's stdio "pipes" are socket pairs, whose two ends have
 * different inodes, so the link is read from the child's side (/proc/<child>/fd/0, 1, 2) right
 * after spawn, before it can close or replace them.
 */
export function fdLink(pid: number | undefined, fd: number): string | null {
  if (pid === undefined) return null;
  try {
    const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    return link.startsWith('socket:') || link.startsWith('pipe:') ? link : null;
  } catch {
    return null;
  }
}

/**
 * Every live process a script started (Linux /proc), found three ways because each alone can
 * be escaped: its process group and session (spawned detached, the script leads both); every
 * descendant by parent pid, which catches a child that left the session with setsid while its
 * parent lives; and every process holding one of the script's pipes (`pipeLinks`), which
 * catches a grandchild that left the session and was re-parented to init but still holds the
 * script's stdout, the very process that would keep the call open. The service's own process
 * (which holds the other ends) is never included.
 */
export function scriptProcesses(leader: number, pipeLinks: ReadonlySet<string>): number[] {
  const stats = livePids()
    .filter((pid) => pid !== process.pid)
    .map(readStat)
    .filter((stat): stat is ProcStat => stat !== null);
  const found = new Set<number>();
  for (const stat of stats) {
    if (stat.pid === leader || stat.pgrp === leader || stat.session === leader) found.add(stat.pid);
    else if (pipeLinks.size > 0 && !stat.zombie && holdsAny(stat.pid, pipeLinks)) found.add(stat.pid);
  }
  // Descendants of anything found so far, to any depth.
  let grew = true;
  while (grew) {
    grew = false;
    for (const stat of stats) {
      if (!found.has(stat.pid) && found.has(stat.ppid)) {
        found.add(stat.pid);
        grew = true;
      }
    }
  }
  const zombies = new Set(stats.filter((stat) => stat.zombie).map((stat) => stat.pid));
  return [...found].filter((pid) => !zombies.has(pid));
}

/**
 * SIGKILLs the script's process group and every process `scriptProcesses` finds, again until a
 * pass finds nothing new alive (a process may fork while the previous pass runs). Returns how
 * many processes were signalled.
 */
export function killScriptProcesses(leader: number, pipeLinks: ReadonlySet<string>): number {
  let signalled = 0;
  // The tree is read before anything is killed: once a parent dies its children are re-parented
  // to init and the parent-pid walk could no longer reach them.
  let pids = scriptProcesses(leader, pipeLinks);
  try {
    process.kill(-leader, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
  for (let pass = 0; pass < 5; pass++) {
    if (pass > 0) pids = scriptProcesses(leader, pipeLinks);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        signalled += 1;
      } catch {
        /* already gone */
      }
    }
  }
  return signalled;
}
