import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrialRecord } from '../../src/sweep/record.js';
import { CLI } from '../helpers/cli.js';

export { lastJson } from '../helpers/cli.js';

/** Shared by the sweep tests: the CLI as a user runs it, the sweep record, the trace of started trial seeds. */
export const TINY_SPACE = 'test/sweep/fixtures/tiny-space.yaml';

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `daydrive-${prefix}-`));
}

export function cliEnv(trace?: string): NodeJS.ProcessEnv {
  return { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn', ...(trace ? { DAYDRIVE_SWEEP_TRACE: trace } : {}) };
}

export function daydrive(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Output and exit of a spawned command. */
export function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export async function readTrialsOf(dir: string): Promise<TrialRecord[]> {
  try {
    const text = await readFile(join(dir, 'trials.jsonl'), 'utf8');
    return text.trim() === ''
      ? []
      : text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as TrialRecord);
  } catch {
    return [];
  }
}

export interface TraceLine {
  readonly sweepId: string;
  readonly trialId: number;
  readonly seedIndex: number;
  readonly pid: number;
  readonly ppid: number;
}

export async function readTrace(file: string): Promise<TraceLine[]> {
  try {
    return (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TraceLine);
  } catch {
    return [];
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function doneSeeds(trials: readonly TrialRecord[]): string[] {
  return trials.flatMap((t) => t.seeds.filter((s) => s.state === 'done').map((s) => `${t.id}/${s.index}`));
}
