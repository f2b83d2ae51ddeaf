#!/usr/bin/env node
import { Command } from 'commander';
import { applyCliContract, reportFailure, runCli, wantsJson } from './command.js';
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

/**
 * The `daydrive` CLI. Each subcommand lives in its own file under src/cli/ and is added here;
 * the contract (flags, --json, one-line errors) is in docs/design.md and the README.
 */
const program = new Command('daydrive')
  .description('learn to drive from a single front camera in a day (VAE + DDPG with prioritized replay)')
  .version(packageVersion());
// Before any subcommand is added: subcommands copy these settings when they are created.
applyCliContract(program);

// Subcommands, one module each:
import { registerSim } from './sim.js';
registerSim(program);
import { registerVae } from './vae.js';
registerVae(program);
import { registerEncode } from './encode.js';
registerEncode(program);
import { registerGym } from './gym.js';
registerGym(program);
import { registerTrain } from './train.js';
registerTrain(program);
import { registerEval } from './eval.js';
registerEval(program);
import { registerDrive } from './drive.js';
registerDrive(program);
import { registerSweep } from './sweep.js';
registerSweep(program);
import { registerLearner } from './learner.js';
registerLearner(program);

// `npm run daydrive -- ...` runs in the package root: paths the user typed are relative to where
// they typed them (npm's INIT_CWD), as for any other command.
if (process.env.npm_lifecycle_event === 'daydrive' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

// A bad environment fails every command alike, --help included: one line, exit 2.
const envProblem = logLevelProblem();
if (envProblem !== null) reportFailure(new UserError(envProblem), wantsJson(process.argv.slice(2)));

await runCli(program, process.argv.slice(2));
