#!/usr/bin/env node
import { Command } from 'commander';
import { applyCliContract, exitQuietlyWhenOutputCloses, reportFailure, runCli, wantsJson } from './command.js';
import { UserError } from '../core/errors.js';
import { logLevelProblem } from '../core/logger.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package version, found by walking up from this file (works from src/ and dist/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

exitQuietlyWhenOutputCloses();

/**
 * The `daydrive` CLI. Each subcommand lives in its own file under src/cli/ and is added here;
 * the contract (flags, --json, one-line errors) is in docs/design.md and the README.
 */
const program = new Command('daydrive')
  .description('learn to drive from a single front camera in a day (VAE + DDPG with prioritized replay)')
  .version(packageVersion());
// Before any subcommand is added: subcommands copy these settings when they are created.
applyCliContract(program);

// Subcommands, one module each, loaded when needed: a command line naming a subcommand loads only
// that one's module (all of them took 1.7 s to load, one of them 1.2 s); anything else (--help,
// `help`, a mistyped name) loads them all, so that help lists them and a typo gets a suggestion.
const SUBCOMMANDS: Readonly<Record<string, () => Promise<(parent: Command) => void>>> = {
  sim: async () => (await import('./sim.js')).registerSim,
  vae: async () => (await import('./vae.js')).registerVae,
  encode: async () => (await import('./encode.js')).registerEncode,
  gym: async () => (await import('./gym.js')).registerGym,
  train: async () => (await import('./train.js')).registerTrain,
  eval: async () => (await import('./eval.js')).registerEval,
  drive: async () => (await import('./drive.js')).registerDrive,
  sweep: async () => (await import('./sweep.js')).registerSweep,
  learner: async () => (await import('./learner.js')).registerLearner,
};
// The program has no options that take a value, so the first word that is not an option is the
// subcommand; `daydrive --version` alone needs none of them.
const args = process.argv.slice(2);
const named = args.find((arg) => !arg.startsWith('-'));
const versionOnly = args.length > 0 && args.every((arg) => arg === '--version' || arg === '-V');
const needed =
  named !== undefined && Object.hasOwn(SUBCOMMANDS, named) ? [named] : versionOnly ? [] : Object.keys(SUBCOMMANDS);
for (const register of await Promise.all(needed.map((name) => SUBCOMMANDS[name]!()))) register(program);

// `npm run daydrive -- ...` runs in the package root: paths the user typed are relative to where
// they typed them (npm's INIT_CWD), as for any other command.
if (process.env.npm_lifecycle_event === 'daydrive' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

// A bad environment fails every command alike, --help included: one line, exit 2.
const envProblem = logLevelProblem();
if (envProblem !== null) reportFailure(new UserError(envProblem), wantsJson(process.argv.slice(2)));

await runCli(program, process.argv.slice(2));
