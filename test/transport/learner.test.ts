import { strict as assert } from 'node:assert';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ActorLink } from '../../src/transport/actor-link.js';
import type { DownlinkMessage } from '../../src/transport/codec.js';
import { LOOPBACK_ANY_PORT, type LinkEndpoints } from '../../src/transport/endpoint.js';
import { LearnerLink } from '../../src/transport/learner-link.js';
import { LearnerService } from '../../src/transport/learner-service.js';
import { TransitionBatcher } from '../../src/transport/transition-batcher.js';
import { smallLearner, episodeTransitions, STATE_SIZE, ACTION_SIZE } from './fixtures/small-learner.js';
import { until } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

function child(name: string, options: unknown): { process: ChildProcess; messages: Record<string, unknown>[] } {
  const p = fork(fixture(name), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  p.on('message', (m) => messages.push(m as Record<string, unknown>));
  return { process: p, messages };
}

async function killHard(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

test(
  'an actor process that dies and restarts rejoins: its transitions arrive again and it gets the weights',
  { timeout: 120_000 },
  async () => {
    const learner = await smallLearner();
    const link = await LearnerLink.bind(LOOPBACK_ANY_PORT, null);
    const service = new LearnerService({
      learner,
      link,
      optimisationSteps: 0,
      checkpointDir: null,
      checkpointEveryEpisodes: 1,
      weightsEveryUpdates: 50,
      heartbeatMs: 50,
      actorTimeoutMs: 500,
    });
    service.start();
    const actors: ChildProcess[] = [];
    try {
      const first = child('actor-child', { endpoints: link.endpoints, actorId: 0 });
      actors.push(first.process);
      await until(
        () => (first.messages.some((m) => m.kind === 'weights') && service.received.transitions > 0 ? true : undefined),
        'the first actor to join',
        60_000,
      );
      await killHard(first.process);
      const before = service.received.transitions;
      await new Promise((r) => setTimeout(r, 700)); // past the liveness timeout: the learner counts it gone
      assert.equal(service.received.transitions, before, 'nothing arrives from a dead actor');
      const second = child('actor-child', { endpoints: link.endpoints, actorId: 0 });
      actors.push(second.process);
      await until(
        () =>
          second.messages.some((m) => m.kind === 'weights') && service.received.transitions > before ? true : undefined,
        'the restarted actor to rejoin',
        60_000,
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}: ${JSON.stringify({ received: service.received, before, messages: second.messages, dropped: link.dropped.counts() })}`,
        );
      });
      assert.equal(learner.replaySize(), service.received.transitions);
      assert.equal(link.dropped.total, 0, 'a killed peer leaves no half message behind');
    } finally {
      for (const a of actors) await killHard(a);
      await service.stop();
      learner.dispose();
    }
  },
);

test(
  'the learner killed mid-optimisation resumes from its checkpoint: the replay keeps every finished episode, the owed optimisation is done',
  { timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'daydrive-learner-'));
    const checkpointDir = join(dir, 'learner-checkpoint');
    let learner: ReturnType<typeof child> | null = null;
    let actor: ActorLink | null = null;
    try {
      // A long optimisation per episode, so the kill lands inside one.
      learner = child('learner-child', { endpoints: LOOPBACK_ANY_PORT, checkpointDir, optimisationSteps: 100_000 });
      const ready = (await until(() => learner!.messages.find((m) => m.kind === 'ready'), 'the learner', 60_000)) as {
        endpoints: LinkEndpoints;
      };
      actor = new ActorLink(ready.endpoints, 0, null);
      const heard: DownlinkMessage[] = [];
      actor.receive((m) => heard.push(m));
      actor.hello(STATE_SIZE, ACTION_SIZE);
      const batcher = new TransitionBatcher(0, STATE_SIZE, ACTION_SIZE, 64);
      const drive = (episode: number, n: number, end: boolean) => {
        for (const t of episodeTransitions(episode, n)) {
          const b = batcher.add(t);
          if (b) actor!.sendTransitions(b);
        }
        const last = batcher.flush();
        if (last) actor!.sendTransitions(last);
        if (end)
          actor!.sendEpisode({
            mode: 'train',
            steps: n,
            distanceM: n / 10,
            intervention: 'off-lane',
            routeCompleted: false,
            worldS: 0,
            agentS: 0,
          });
      };
      const heartbeat = (pred: (h: Extract<DownlinkMessage['header'], { kind: 'heartbeat' }>) => boolean) => () =>
        heard.find((m) => m.header.kind === 'heartbeat' && pred(m.header));
      drive(1, 100, true);
      // The first episode is checkpointed and optimised on; the second arrives mid-optimisation and is checkpointed too.
      await until(
        heartbeat((h) => h.optimising && h.learningEpisodes === 1),
        'optimising episode 1',
        60_000,
      );
      drive(2, 150, true);
      await until(
        () =>
          heard.find(
            (m) => m.header.kind === 'event' && m.header.name === 'checkpointed' && m.header.learningEpisodes === 2,
          ),
        'the checkpoint of episode 2',
        60_000,
      );
      await until(
        heartbeat((h) => h.optimising && h.learningEpisodes === 2 && h.replaySize === 250),
        'the optimisation going on',
        60_000,
      );
      drive(3, 40, false); // in flight: its end never comes
      await new Promise((r) => setTimeout(r, 300));
      await killHard(learner.process);

      learner = child('learner-child', { endpoints: ready.endpoints, checkpointDir, optimisationSteps: 100_000 });
      const resumed = (await until(
        () => learner!.messages.find((m) => m.kind === 'ready'),
        'the restarted learner',
        60_000,
      )) as { resumed: boolean; replaySize: number; learningEpisodes: number };
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.learningEpisodes, 2);
      assert.equal(resumed.replaySize, 250, 'both finished episodes are in the replay, nothing of the one in flight');
      // It picks the owed optimisation up, and the actor (which never reconnected by hand) hears it.
      heard.length = 0;
      await until(
        heartbeat((h) => h.optimising && h.learningEpisodes === 2),
        'the resumed optimisation',
        60_000,
      );
      drive(4, 30, true);
      await until(
        heartbeat((h) => h.replaySize >= 280 && h.learningEpisodes === 3),
        'new transitions after the restart',
        60_000,
      );
      actor.sendTask('stop');
      await until(
        () =>
          learner!.messages.find((m) => m.kind === 'never') ?? (learner!.process.exitCode !== null ? true : undefined),
        'the learner to stop',
        60_000,
      );
    } finally {
      actor?.close();
      if (learner) await killHard(learner.process);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
