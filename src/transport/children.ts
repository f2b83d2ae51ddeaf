import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { log } from '../core/logger.js';

/**
 * Starting the learner and actor processes: a module of src/transport run by `node` with the
 * parent's flags (so a parent run through tsx starts .ts children, the built CLI .js ones), its
 * options as one JSON argument, stdout/stderr shared with the parent and an IPC channel for
 * 'ready'/'done' only (everything else goes over ZeroMQ).
 */

export type ChildEntry = 'learner-process' | 'actor-process';

export function entryPath(entry: ChildEntry): string {
  const js = fileURLToPath(new URL(`./${entry}.js`, import.meta.url));
  if (existsSync(js)) return js;
  return fileURLToPath(new URL(`./${entry}.ts`, import.meta.url));
}

export function startChild(entry: ChildEntry, options: unknown): ChildProcess {
  return fork(entryPath(entry), [JSON.stringify(options)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * Lowers the CPU priority of process `pid` (0: this process) to `niceIncrement` nice steps below
 * this process's (at most 19): the car's control loop must win the CPU when its learner wants it
 * too (raising a priority needs privileges; lowering one does not). 0 leaves it equal.
 */
export function lowerPriority(pid: number | undefined, niceIncrement: number): void {
  if (niceIncrement === 0 || pid === undefined) return;
  try {
    setPriority(pid, Math.min(19, getPriority() + niceIncrement));
  } catch (err) {
    // A child that has already exited: its supervisor reports that; the priority no longer matters.
    log.warn({ pid, err: (err as Error).message }, 'could not lower the process priority');
  }
}

/** A child's first IPC message of `kind` (rejects if it exits first, or after `timeoutMs`). */
export function childMessage<T>(child: ChildProcess, kind: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`${entryName(child)} sent no '${kind}' within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === kind) done(null, m as T);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`${entryName(child)} exited (${signal ?? `code ${String(code)}`}) before '${kind}'`));
    function done(err: Error | null, value?: T): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Resolves when the child has exited (at once if it has), killing it after `graceMs`. */
export function childExit(child: ChildProcess, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = Number.isFinite(graceMs) ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function entryName(child: ChildProcess): string {
  return `process ${String(child.pid)}`;
}

/** Sends an IPC message to the parent, when there is one. */
export function tellParent(message: Record<string, unknown>): void {
  if (process.connected) process.send?.(message);
}
