import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** The `daydrive` command as the tests run it: node with tsx over the sources, from the checkout. */
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** execFile as a promise (rejects on a non-zero exit, with code, stdout and stderr on the error). */
export const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `daydrive args` in a child process and resolves with its exit code and output whether it
 * succeeds or fails (the exit code and stderr are the CLI's contract). Logs at warn unless `env`
 * says otherwise.
 */
export async function runCli(
  args: readonly string[],
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn', ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The JSON object a `--json` command prints as the last line of stdout. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}
