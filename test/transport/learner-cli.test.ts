/**
 * `daydrive learner`, the car's learner started apart from the drive node (learner_mode external,
 * what the launch file starts with learner_mode:=external): the real command in its own process
 * on 127.0.0.1, read from the same parameters file as the node; a drive node on the rclnodejs
 * stand-in learns through it (an optimisation, new weights in the car's actor); killed with
 * SIGKILL and started again on the same endpoints it resumes from its checkpoint while the node
 * reports it lost, then back; SIGTERM/SIGINT checkpoint and exit 0; bad input is one line, exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PolicyWeights } from '../../src/rl/types.js';
import { ActorLink } from '../../src/transport/actor-link.js';
import { parseEndpoints } from '../../src/transport/endpoint.js';
import { clientSecurity, curveKeyFingerprint } from '../../src/transport/security.js';
import { CLI, runCli } from '../helpers/cli.js';
import { startCar, writeAgentConfig } from './car-harness.js';
import { keyPair, until } from './helpers.js';

const FREE_PORTS = 'tcp://127.0.0.1:*,tcp://127.0.0.1:*';

/** A `daydrive learner` process (--json unless told otherwise): its stdout's lines as they come, its exit. */
class LearnerCli {
  /** stdout's lines; under --json each parsed. */
  readonly text: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[], json = true) {
    this.child = spawn(process.execPath, [...CLI, 'learner', ...(json ? ['--json'] : []), ...args], {
      env: { ...process.env, DAYDRIVE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') this.text.push(line);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The --json lines. */
  get lines(): Record<string, unknown>[] {
    return this.text.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The first line `find` picks, waiting for it (failing at once if the process has exited). */
  async line<T>(find: (lines: readonly string[]) => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
    return until(
      () => {
        const found = find(this.text);
        if (found !== undefined) return found;
        if (this.child.exitCode !== null || this.child.signalCode !== null)
          throw new Error(`daydrive learner exited before ${what}: ${this.stderr.trim()}`);
        return undefined;
      },
      what,
      timeoutMs,
    );
  }

  /** The first --json line with this `event` (and matching `where`), waiting for it. */
  async event(name: string, where: (l: Record<string, unknown>) => boolean = () => true, timeoutMs = 120_000) {
    return this.line(
      () => this.lines.find((l) => l.event === name && where(l)),
      `daydrive learner's '${name}' line`,
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

test(
  'a drive node in external mode learns through `daydrive learner`; SIGKILLed and started again, it resumes from its checkpoint; SIGTERM checkpoints and exits 0',
  { timeout: 600_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'learner-cli-test-'));
    const steps = 60;
    // One parameters file for both, as the launch file gives it: the agent's config, the checkpoint directory.
    const paramsFile = join(dir, 'car.params.yaml');
    const configFile = await writeAgentConfig(dir, steps);
    await writeFile(
      paramsFile,
      `/**:\n  ros__parameters:\n    config_file: ${configFile}\n    checkpoint_dir: ${join(dir, 'checkpoint')}\n`,
    );
    let learner = new LearnerCli(['--params', paramsFile, '--endpoints', FREE_PORTS]);
    let car: Awaited<ReturnType<typeof startCar>> | null = null;
    try {
      const ready = await learner.event('ready');
      assert.equal(ready.origin, 'new');
      assert.equal(ready.learningEpisodes, 0);
      assert.equal(ready.curve, false);
      assert.equal(ready.checkpointDir, join(dir, 'checkpoint', 'learner-process'));
      // learner_nice (default 10): beside the node, the learner runs below the control loop's priority.
      assert.equal(getPriority(learner.pid), Math.min(19, getPriority() + 10));
      const endpoints = ready.endpoints as string;
      assert.match(endpoints, /^tcp:\/\/127\.0\.0\.1:\d+,tcp:\/\/127\.0\.0\.1:\d+$/);

      car = await startCar(dir, { learner_mode: 'external', learner_endpoints: endpoints }, steps);
      const c = car;
      const weights = () => (c.agent.learner as unknown as PolicyWeights).policyWeights();
      await until(() => (c.learner().state === 'ok' ? true : undefined), 'the learner to speak', 60_000);
      const before = weights();
      const receivedBefore = c.learner().weightsReceived;

      // One episode: the learner optimises on it and its new weights reach the car's actor.
      const steps1 = await c.episode(8);
      const learned1 = await learner.event('learned', (l) => l.learningEpisodes === 1);
      assert.equal(learned1.updates, steps, 'the optimisation ran its updates');
      assert.equal(learned1.steps, steps1);
      await until(
        () => (c.h.drive.status().task.phase === 'waiting' && !c.h.drive.status().optimising ? true : undefined),
        'the node to see the optimisation end',
        60_000,
      );
      assert.equal(c.learner().learningEpisodes, 1);
      assert.equal(c.learner().optimisationsMissed, 0);
      assert.ok(c.learner().weightsReceived > receivedBefore, 'weights were broadcast to the car');
      assert.notDeepEqual(weights(), before, "the car's actor has the optimised weights");

      // SIGKILL: no checkpoint at the end; the node counts the learner as lost (learner_lost_action stop: ERROR).
      const firstIncarnation = c.learner().incarnation;
      learner.kill('SIGKILL');
      assert.equal((await learner.exited).signal, 'SIGKILL');
      await until(() => (c.learner().state === 'lost' ? true : undefined), 'the learner to count as lost', 10_000);
      await until(
        () => (c.learnerDiagnostics().some((d) => d.level === 2 && /learner lost/.test(d.message)) ? true : undefined),
        "an ERROR 'learner lost' in /diagnostics",
        10_000,
      );

      // Started again on the same endpoints: it resumes from its checkpoint (written at the episode's end).
      learner = new LearnerCli(['--params', paramsFile, '--endpoints', endpoints]);
      const again = await learner.event('ready');
      assert.equal(again.origin, 'checkpoint');
      assert.equal(again.learningEpisodes, 1);
      assert.equal(again.endpoints, endpoints);
      await until(
        () => (c.learner().state === 'ok' && c.learner().incarnation !== firstIncarnation ? true : undefined),
        'the node to hear the restarted learner',
        60_000,
      );
      assert.equal(c.learner().replaySize, steps1, "the resumed learner's replay holds the finished episode");
      await until(
        () => (c.learnerDiagnostics().at(-1)?.level === 0 ? true : undefined),
        "'daydrive: learner' OK in /diagnostics again",
        10_000,
      );

      // The optimisation of the first episode ran after the checkpoint: the resumed learner owes it and does it again.
      const redone = await learner.event('learned', (l) => l.learningEpisodes === 1);
      assert.equal(redone.updates, steps);
      // Learning goes on: a second episode is optimised on by the resumed learner.
      const steps2 = await c.episode(8);
      const learned2 = await learner.event('learned', (l) => l.learningEpisodes === 2);
      assert.equal(learned2.updates, steps);
      await until(
        () => (c.learner().replaySize === steps1 + steps2 ? true : undefined),
        `the replay to hold both episodes (${steps1} + ${steps2})`,
        60_000,
      );
      await car.close();
      car = null;

      // SIGTERM: a checkpoint, then exit 0 with the summary as the last line.
      learner.kill('SIGTERM');
      const exit = await learner.exited;
      assert.equal(exit.code, 0, learner.stderr);
      const summary = learner.lines.at(-1)!;
      assert.equal(summary.ok, true);
      assert.equal(summary.stoppedBy, 'SIGTERM');
      assert.equal(summary.learningEpisodes, 2);
      const service = JSON.parse(
        await readFile(join(dir, 'checkpoint', 'learner-process', 'service.json'), 'utf8'),
      ) as { learningEpisodes: number };
      assert.equal(service.learningEpisodes, 2);
    } finally {
      await car?.close();
      learner.kill('SIGKILL');
      await learner.exited;
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  '`daydrive learner` with CURVE keys: the ready line names the server key by its fingerprint, an allow-listed client hears it; SIGINT checkpoints and exits 0',
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'learner-cli-curve-'));
    const server = keyPair();
    const client = keyPair();
    const keysFile = join(dir, 'keys.json');
    await writeFile(
      keysFile,
      JSON.stringify({
        serverPublicKey: server.publicKey,
        serverSecretKey: server.secretKey,
        allowedClientKeys: [client.publicKey],
        clientPublicKey: client.publicKey,
        clientSecretKey: client.secretKey,
      }),
    );
    const checkpointDir = join(dir, 'learner');
    // Text output this time: the ready line as a person reads it.
    const learner = new LearnerCli(
      ['--endpoints', FREE_PORTS, '--curve-keys', keysFile, '--checkpoint-dir', checkpointDir],
      false,
    );
    let link: ActorLink | null = null;
    try {
      const ready = await learner.line(
        (lines) => lines.find((l) => l.startsWith('learner ready at ')),
        'the ready line',
      );
      const m =
        /^learner ready at (\S+) \(new; checkpoints in (.+); CURVE, server key (sha256:[0-9a-f]{16}); pid \d+\)$/.exec(
          ready,
        );
      assert.ok(m, ready);
      assert.equal(m[2], checkpointDir);
      assert.equal(m[3], curveKeyFingerprint(server.publicKey));
      const endpoints = parseEndpoints(m[1]!, 'endpoints');
      const actor = new ActorLink(
        endpoints,
        0,
        clientSecurity(endpoints, {
          serverPublicKey: server.publicKey,
          clientPublicKey: client.publicKey,
          clientSecretKey: client.secretKey,
        }),
      );
      link = actor;
      let heard = 0;
      actor.receive((m) => {
        if (m.header.kind === 'heartbeat') heard += 1;
      });
      await until(() => (heard > 0 ? true : undefined), "the learner's heartbeat over CURVE", 30_000);
      learner.kill('SIGINT');
      const exit = await learner.exited;
      assert.equal(exit.code, 0, learner.stderr);
      assert.equal(
        learner.text.at(-1),
        `learner stopped (SIGINT) after 0 learning episodes; checkpoint in ${checkpointDir}`,
      );
      await readFile(join(checkpointDir, 'service.json'), 'utf8');
    } finally {
      link?.close();
      learner.kill('SIGKILL');
      await learner.exited;
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('`daydrive learner` refuses bad input with one line and exit 2, before anything starts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'learner-cli-bad-'));
  try {
    const server = keyPair();
    const noAllowList = join(dir, 'no-allow-list.json');
    await writeFile(
      noAllowList,
      JSON.stringify({ serverPublicKey: server.publicKey, serverSecretKey: server.secretKey }),
    );
    const checkpoint = ['--checkpoint-dir', join(dir, 'learner')];
    // TEST-NET-1 (RFC 5737): never contacted, the check comes first.
    const remote = 'tcp://192.0.2.1:5755,tcp://192.0.2.1:5756';
    for (const [args, message] of [
      [
        ['--endpoints', remote, ...checkpoint],
        /^daydrive: error: learner endpoint tcp:\/\/192\.0\.2\.1:5755 is not loopback: it needs CURVE keys \(--curve-keys FILE/,
      ],
      [
        ['--endpoints', 'tcp://0.0.0.0:5755,tcp://0.0.0.0:5756', ...checkpoint],
        /learner endpoint tcp:\/\/0\.0\.0\.0:5755 is not loopback: it needs CURVE keys/,
      ],
      [['--endpoints', remote, '--curve-keys', noAllowList, ...checkpoint], /lacks allowedClientKeys/],
      [['--endpoints', 'tcp://127.0.0.1:5755', ...checkpoint], /--endpoints must be two endpoints/],
      [['--params', join(dir, 'missing.yaml')], /cannot read parameters .*missing\.yaml: no such file/],
    ] as const) {
      const r = await runCli(['learner', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, message);
      assert.equal(r.stdout, '');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
