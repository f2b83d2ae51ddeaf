import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isSystemError, oneLine, systemErrorCause, UserError } from '../core/errors.js';
import { log } from '../core/logger.js';

/** Options every command has (the CLI contract in docs/design.md). */
export interface CommonOptions {
  readonly json?: boolean;
}

/** What a command returns: the JSON object printed as the last line under --json. */
export type CommandResult = Record<string, unknown>;

/**
 * Adds a subcommand whose action is `run`. The action's result is printed as one JSON line with
 * --json (else `summarise` prints a human text, if given). Errors become one line on stderr
 * (and `{"ok":false,"error":...}` under --json) with a non-zero exit; stack traces only with
 * DAYDRIVE_DEBUG=1.
 */
export function addCommand<O extends CommonOptions>(
  parent: Command,
  spec: string,
  description: string,
  configure: (cmd: Command) => Command,
  run: (args: string[], opts: O) => Promise<CommandResult>,
  summarise?: (result: CommandResult) => string,
): Command {
  const cmd = parent.command(spec).description(description);
  configure(cmd);
  cmd.option('--json', 'print one machine-readable JSON object as the last line of stdout');
  cmd.action(async (...actionArgs: unknown[]) => {
    // commander passes positional args, then the options object, then the command.
    const opts = actionArgs[actionArgs.length - 2] as O;
    const positional = actionArgs
      .slice(0, -2)
      .flatMap((a) => (Array.isArray(a) ? (a as string[]) : a === undefined ? [] : [String(a)]));
    try {
      const result = await run(positional, opts);
      if (opts.json) process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n');
      else if (summarise) process.stdout.write(summarise(result) + '\n');
    } catch (err) {
      reportFailure(err, opts.json === true);
    }
  });
  return cmd;
}

/**
 * Help text commander writes to stderr for a usage error (a command group called without its
 * subcommand). It is kept here instead of printed: the contract allows one error line, built
 * from its usage line by usageError().
 */
let helpForError = '';

/**
 * Makes `program` (and every command added to it afterwards, which inherit these settings) keep
 * the CLI contract on commander's own errors: commander throws instead of exiting and prints
 * nothing itself, so that runCli() can report an unknown option, a bad or missing flag value or
 * an unknown command like any other bad input: one line on stderr, `{"ok":false,"error":...}`
 * under --json, exit code 2. Help and version output (stdout) are untouched.
 */
export function applyCliContract(program: Command): Command {
  return program.exitOverride().configureOutput({
    writeErr: (str) => {
      helpForError += str;
    },
    outputError: () => {
      // The message travels in the thrown CommanderError; reportFailure prints it.
    },
  });
}

/** True when the command line asks for --json (options end at a bare `--`). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** A commander usage error as a UserError (exit code 2, like every other bad input). */
function usageError(err: CommanderError): UserError {
  if (err.code === 'commander.help') {
    // A command group without its subcommand: commander's answer is the whole help text.
    const usage = /^Usage:\s*(.+)$/m.exec(helpForError)?.[1]?.trim();
    helpForError = '';
    return new UserError(`missing command${usage ? `: usage: ${usage}` : ''} (see --help)`);
  }
  return new UserError(err.message.replace(/^error:\s*/i, ''));
}

/**
 * Commands that take another program's arguments after a marker (`drive --ros-args ...`): the
 * marker and what follows it, up to a lone `--`, are cut off before commander parses, so the
 * command can refuse unknown flags of its own and still pass ROS its arguments.
 */
const foreignArgumentMarkers = new Map<string, string>();

export function takesForeignArguments(cmd: Command, marker: string): void {
  foreignArgumentMarkers.set(cmd.name(), marker);
}

/** The command line without the foreign arguments of a command that takes them (see takesForeignArguments). */
export function ownArguments(args: readonly string[]): string[] {
  const marker = args[0] === undefined ? undefined : foreignArgumentMarkers.get(args[0]);
  const start = marker === undefined ? -1 : args.indexOf(marker);
  if (start < 0) return [...args];
  const end = args.indexOf('--', start + 1);
  return [...args.slice(0, start), ...(end < 0 ? [] : args.slice(end + 1))];
}

/**
 * Parses and runs the command line (`args` without node and the script). Commander's usage
 * errors and anything a command throws end in reportFailure; --help and --version return
 * normally (exit code 0) after commander printed them.
 */
export async function runCli(program: Command, args: readonly string[]): Promise<void> {
  try {
    await program.parseAsync(ownArguments(args), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return; // --help, --version
    reportFailure(err, wantsJson(args));
  }
}

/** Exit status of a program that SIGPIPE ended (128 + 13), as the shell reports it. */
export const CLOSED_OUTPUT_EXIT_CODE = 141;

/**
 * A reader that closes the pipe before the output ends (`daydrive eval ... | head`) ends the
 * command quietly with status 141, as SIGPIPE ends other Unix programs, instead of an EPIPE stack
 * trace (Node ignores SIGPIPE). Files are written to a new name and renamed, so nothing is left
 * half-written. Other errors on stdout still throw.
 */
export function exitQuietlyWhenOutputCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(CLOSED_OUTPUT_EXIT_CODE);
  });
}

/** A system error as a UserError: `cannot <syscall> <path>: <cause> (CODE)`. */
function systemError(err: NodeJS.ErrnoException & { dest?: string }): UserError {
  const what = err.path
    ? `${err.syscall ?? 'use'} ${err.path}${err.dest ? ` to ${err.dest}` : ''}`
    : (err.syscall ?? 'complete the operation');
  return new UserError(`cannot ${what}: ${systemErrorCause(err)}`);
}

export function reportFailure(thrown: unknown, json: boolean): never {
  // A CommanderError can also come from inside an action (cmd.error()); it is bad input too.
  // A system error that reached here (a full disk, a read-only file system) is the user's
  // environment, not a bug: one line naming the path and the cause.
  const err =
    thrown instanceof CommanderError ? usageError(thrown) : isSystemError(thrown) ? systemError(thrown) : thrown;
  const message = oneLine(err);
  if (!(err instanceof UserError)) log.debug({ err }, 'unexpected error');
  if (process.env.DAYDRIVE_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
  process.stderr.write(`daydrive: error: ${message}\n`);
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: message }) + '\n');
  process.exit(err instanceof UserError ? err.exitCode : 1);
}

/**
 * How the user runs daydrive, for a command line printed as advice (the resume command): under
 * npm (`npm start`, `npm run daydrive -- ...`) `npm run daydrive --`, else `daydrive`.
 */
export function invocation(): string {
  const event = process.env.npm_lifecycle_event;
  return event === 'daydrive' || event === 'start' ? 'npm run daydrive --' : 'daydrive';
}

// ---- --out and --force: the same rule for every command that writes a directory (src/core/out-dir.ts) ----

/** The --out rule, for a command's help. */
export const OUT_RULE = 'a non-empty directory holding other files is refused unless --force';

/** The help of --force. */
export const FORCE_HELP =
  'write into a non-empty --out that holds other files (same-named entries are replaced, nothing else is removed)';

// ---- option value parsers: a bad value is one clear line from commander ----

export function parseIntArg(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
      throw new InvalidArgumentError(`'${value}' is not an integer.`);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is outside [${min}, ${max}].`);
    return n;
  };
}

export function parseFloatArg(min = -Infinity, max = Infinity): (v: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`'${value}' is not a finite number.`);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is outside [${min}, ${max}].`);
    return n;
  };
}

export function choiceOption<T extends string>(
  flags: string,
  description: string,
  choices: readonly T[],
  fallback?: T,
): Option {
  const opt = new Option(flags, description).choices(choices);
  return fallback === undefined ? opt : opt.default(fallback);
}
