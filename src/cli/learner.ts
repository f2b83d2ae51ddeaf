import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { log } from '../core/logger.js';
import { EXTERNAL_LEARNER_CHECKPOINT, externalLearnerOptions } from '../ros/learner-client.js';
import { signalExitCode } from '../ros/signals.js';
import { DEFAULT_LEARNER_ENDPOINTS } from '../transport/endpoint.js';
import type { LearnerServiceEvent } from '../transport/learner-service.js';
import type { RunningLearner } from '../transport/learner-runner.js';
import { lowerPriority } from '../transport/children.js';
import { curveKeyFingerprint } from '../transport/security.js';
import { addCommand, takesForeignArguments, type CommandResult, type CommonOptions } from './command.js';
import { checkDriveSetup, rosArgsOf } from './drive.js';

/**
 * `daydrive learner`: the car's learner in a process of its own, for a drive node with
 * learner_mode external (the launch file starts it; or an engineer on another machine). The
 * learner is the one the node starts with learner_mode child-process (src/transport/learner-runner.ts),
 * with the options the node would give it, read from the same parameters (src/ros/learner-client.ts).
 * Prints one line when it listens and one per learning episode optimised on (JSON lines under
 * --json), stops on SIGINT/SIGTERM after a checkpoint.
 */

interface LearnerOptions extends CommonOptions {
  params?: string;
  endpoints?: string;
  curveKeys?: string;
  checkpointDir?: string;
}

const ROS_ARGS = '--ros-args';
/** After the learner has stopped, exit even if a socket's native handle is still open. */
const EXIT_GRACE_MS = 2000;
const DEFAULT_ENDPOINTS_TEXT = `${DEFAULT_LEARNER_ENDPOINTS.uplink},${DEFAULT_LEARNER_ENDPOINTS.downlink}`;

function readyLine(running: RunningLearner, checkpointDir: string, json: boolean): string {
  const endpoints = `${running.endpoints.uplink},${running.endpoints.downlink}`;
  const fingerprint = running.security ? curveKeyFingerprint(running.security.curvePublicKey) : null;
  const { service } = running;
  if (json)
    return JSON.stringify({
      event: 'ready',
      endpoints,
      origin: running.origin,
      learningEpisodes: service.learningEpisodes,
      checkpointDir,
      curve: fingerprint !== null,
      ...(fingerprint !== null ? { serverKeyFingerprint: fingerprint } : {}),
      incarnation: service.incarnation,
      pid: process.pid,
    });
  const origin =
    running.origin === 'checkpoint'
      ? `resumed from ${checkpointDir}: ${service.learningEpisodes} learning episodes`
      : running.origin === 'drive-checkpoint'
        ? `started from the drive node's checkpoint; checkpoints in ${checkpointDir}`
        : `new; checkpoints in ${checkpointDir}`;
  const security = fingerprint !== null ? `CURVE, server key ${fingerprint}` : 'loopback, no CURVE';
  return `learner ready at ${endpoints} (${origin}; ${security}; pid ${process.pid})`;
}

/** A status line for an event worth a line (an episode optimised on, a task's outcome), else null. */
function eventLine(event: LearnerServiceEvent, json: boolean): string | null {
  if (event.name === 'learned') {
    const u = event.update ?? null;
    if (json)
      return JSON.stringify({
        event: 'learned',
        learningEpisodes: event.learningEpisodes,
        mode: event.episode?.mode ?? null,
        steps: event.episode?.steps ?? null,
        updates: u?.updates ?? 0,
        criticLoss: u?.criticLoss ?? null,
        optimiseS: event.optimiseS ?? null,
      });
    // A test episode is recorded, not optimised on (the learner says 'learned' for it all the same).
    if (event.episode?.mode === 'test') return `test episode (${event.episode.steps} steps): not optimised on`;
    const what = u
      ? `${u.updates} updates in ${(event.optimiseS ?? 0).toFixed(1)} s (critic loss ${u.criticLoss.toPrecision(3)})`
      : 'no update (empty replay or no steps)';
    return `learned: learning episode ${event.learningEpisodes} (${event.episode?.mode ?? '?'}, ${event.episode?.steps ?? '?'} steps): ${what}`;
  }
  // A task's outcome worth a line says what it did (an undo); a checkpoint or the stop says nothing.
  if ((event.name === 'task-done' || event.name === 'task-refused') && event.detail) {
    if (json) return JSON.stringify({ event: event.name, detail: event.detail });
    return `${event.name === 'task-done' ? 'task done' : 'task refused'}: ${event.detail}`;
  }
  return null;
}

export function registerLearner(program: Command): void {
  const cmd = addCommand<LearnerOptions>(
    program,
    'learner',
    "run the car's learner in its own process for a drive node with learner_mode external (the launch file starts it with learner_mode:=external; see docs/transport.md)",
    (c) =>
      c
        .option(
          '--params <file>',
          "the drive node's ROS 2 parameters YAML: config_file, vae_model_dir, the car's scale, checkpoint_dir, learner_endpoints, learner_curve_keys and learner_nice (this process runs that many nice steps lower) are read from it as the node reads them",
        )
        .option(
          '--endpoints <uplink,downlink>',
          `where the learner binds (tcp://HOST:PORT twice; a '*' port picks a free one); default: learner_endpoints, else ${DEFAULT_ENDPOINTS_TEXT}; anything but loopback needs CURVE keys`,
        )
        .option(
          '--curve-keys <file>',
          'CURVE keys file (serverPublicKey, serverSecretKey, allowedClientKeys; docs/transport.md); default: learner_curve_keys',
        )
        .option(
          '--checkpoint-dir <dir>',
          `the learner's checkpoint (resumed from when it holds one, written after every learning episode); default: <checkpoint_dir>/learner-process (as a child learner of the node), else ${EXTERNAL_LEARNER_CHECKPOINT}`,
        )
        .addHelpText(
          'after',
          `\nPrints one line when it listens (the endpoints, the CURVE key's fingerprint), one per learning episode
optimised on (JSON lines with --json); SIGINT/SIGTERM: checkpoint, then exit 0 (a second one exits at once).
ROS arguments after --ros-args (-p, --params-file, -r __ns:=) select and override parameters as for
\`daydrive drive\`; the learner's own flags go before them.
  daydrive learner --params car.yaml --endpoints tcp://127.0.0.1:5755,tcp://127.0.0.1:5756
  daydrive learner --params car.yaml --endpoints tcp://10.0.0.2:5755,tcp://10.0.0.2:5756 --curve-keys learner-keys.json`,
        ),
    async (_args, opts): Promise<CommandResult> => {
      let paramsFile: string | undefined;
      if (opts.params !== undefined) {
        paramsFile = resolve(opts.params);
        if (!(await exists(paramsFile))) throw new UserError(`cannot read parameters ${opts.params}: no such file`);
      }
      // The parameters as the drive node reads them (the same files, -p rules and checks).
      const { params } = await checkDriveSetup(paramsFile, rosArgsOf(process.argv));
      // Beside the node on the car's computer, the control loop must win the CPU (as a child learner).
      lowerPriority(0, params.learner_nice);
      const options = await externalLearnerOptions(params, {
        ...(opts.endpoints !== undefined ? { endpoints: opts.endpoints } : {}),
        ...(opts.curveKeys !== undefined ? { curveKeys: opts.curveKeys } : {}),
        ...(opts.checkpointDir !== undefined ? { checkpointDir: opts.checkpointDir } : {}),
      });
      const json = opts.json === true;
      let running: RunningLearner | null = null;
      let stoppedBy: NodeJS.Signals | null = null;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stoppedBy !== null) {
          // The checkpoint is written to a new directory and renamed: the last complete one stays.
          log.warn({ signal }, 'second signal: exiting now (the last complete checkpoint stays)');
          process.exit(signalExitCode(signal));
        }
        stoppedBy = signal;
        log.info({ signal }, 'signal: checkpointing and stopping the learner');
        running?.stop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        // Loaded only here: other commands do not load the learner's agent and training modules.
        const { startLearner } = await import('../transport/learner-runner.js');
        running = await startLearner(options, (event) => {
          const line = eventLine(event, json);
          if (line !== null) process.stdout.write(`${line}\n`);
        });
        process.stdout.write(`${readyLine(running, options.checkpointDir, json)}\n`);
        // A signal during the start (the backend, the VAE, a checkpoint's replay): stop now.
        if (stoppedBy !== null) running.stop();
        await running.finished;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      // A stop after a signal is the normal end (0): launch reports any other status as "process has died".
      setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_GRACE_MS).unref();
      return {
        stoppedBy,
        learningEpisodes: running.service.learningEpisodes,
        transitionsReceived: running.service.received.transitions,
        episodesReceived: running.service.received.episodes,
        droppedMessages: running.link.dropped.counts(),
        checkpointDir: options.checkpointDir,
      };
    },
    (r) =>
      `learner stopped${r.stoppedBy ? ` (${String(r.stoppedBy)})` : ''} after ${String(r.learningEpisodes)} learning episodes; checkpoint in ${String(r.checkpointDir)}`,
  );
  // The ROS arguments select the parameters as the node's do (daydrive drive): commander never sees them.
  takesForeignArguments(cmd, ROS_ARGS);
}
