import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { UserError } from '../../src/core/errors.js';
import {
  decodeDownlink,
  encodeHeader,
  encodeTransitions,
  encodeWeights,
  type TransitionBatch,
  type UplinkMessage,
} from '../../src/transport/codec.js';
import { checkEndpoint, isLoopback, parseEndpoints } from '../../src/transport/endpoint.js';
import { PROTOCOL_VERSION } from '../../src/transport/protocol.js';
import { clientSecurity, serverSecurity } from '../../src/transport/security.js';
import { TransitionBatcher } from '../../src/transport/transition-batcher.js';
import { z85Encode } from '../../src/transport/z85.js';
import { bytesEqual, collect, keyPair, linkPair, until } from './helpers.js';

const STATE = 34;
const ACTION = 2;

/** Transitions with awkward floats: -0, subnormals, extremes, NaN-free; rewards needing float64. */
function awkwardTransitions(
  n: number,
): { state: Float32Array; action: Float32Array; reward: number; nextState: Float32Array; terminated: boolean }[] {
  const specials = [-0, 1.4e-45, 3.4028234663852886e38, -1.1754943508222875e-38, 0.1, Math.PI];
  return Array.from({ length: n }, (_, i) => ({
    state: Float32Array.from({ length: STATE }, (_, k) => specials[(i + k) % specials.length]! * (k % 2 ? -1 : 1)),
    action: Float32Array.from({ length: ACTION }, (_, k) => (k ? -0.3 : 0.7) + i * 1e-7),
    reward: 0.1 + i * 1e-12, // not representable in float32
    nextState: Float32Array.from({ length: STATE }, (_, k) => Math.fround(Math.sin(i * STATE + k))),
    terminated: i % 3 === 0,
  }));
}

test('transitions round-trip bit-exact through PUSH/PULL in batches (float32 states and actions, float64 rewards)', async () => {
  const { learner, actor, close } = await linkPair(3);
  try {
    const got: UplinkMessage[] = [];
    learner.receive((m) => got.push(m));
    const sent = awkwardTransitions(300);
    const batcher = new TransitionBatcher(3, STATE, ACTION, 128);
    for (const t of sent) {
      const b = batcher.add(t);
      if (b) actor.sendTransitions(b);
    }
    const last = batcher.flush();
    assert.ok(last);
    actor.sendTransitions(last);
    await until(() => (got.length === 3 ? true : undefined), 'three batches');
    const batches = got.map((m) => ('batch' in m ? m.batch : null));
    assert.deepEqual(
      batches.map((b) => b?.count),
      [128, 128, 44],
    );
    let i = 0;
    for (const b of batches) {
      assert.ok(b);
      assert.equal(b.actorId, 3);
      for (let k = 0; k < b.count; k++, i++) {
        const t = sent[i]!;
        assert.ok(bytesEqual(b.states.subarray(k * STATE, (k + 1) * STATE), t.state), `state ${i}`);
        assert.ok(bytesEqual(b.actions.subarray(k * ACTION, (k + 1) * ACTION), t.action), `action ${i}`);
        assert.ok(bytesEqual(b.nextStates.subarray(k * STATE, (k + 1) * STATE), t.nextState), `next state ${i}`);
        assert.ok(Object.is(b.rewards[k], t.reward), `reward ${i}`);
        assert.equal(b.terminated[k] === 1, t.terminated);
      }
    }
    assert.equal(i, sent.length);
    assert.equal(learner.dropped.total, 0);
  } finally {
    close();
  }
});

test('weights round-trip bit-exact through PUB/SUB with their version', async () => {
  const { learner, actor, close } = await linkPair();
  try {
    const got = collect(actor);
    const weights = Float32Array.from({ length: 4610 }, (_, i) =>
      i === 0 ? -0 : i === 1 ? 1.4e-45 : Math.fround(Math.cos(i) * 1e3),
    );
    // PUB/SUB drops what is published before the subscription is through: publish until it arrives (as the learner's periodic broadcasts do).
    const message = await until(() => {
      const w = got.find((m) => 'weights' in m);
      if (!w) learner.publishWeights({ incarnation: 'abc', version: 7, updates: 12, learningEpisodes: 2 }, weights);
      return w;
    }, 'weights');
    assert.ok('weights' in message);
    assert.ok(bytesEqual(message.weights, weights));
    assert.equal(message.header.version, 7);
    assert.equal(message.header.incarnation, 'abc');
    assert.equal(message.header.learningEpisodes, 2);
  } finally {
    close();
  }
});

test('malformed, truncated and wrong-version messages are dropped and counted, and the link goes on', async () => {
  const { learner, actor, close } = await linkPair(1);
  try {
    const got: UplinkMessage[] = [];
    learner.receive((m) => got.push(m));
    const batch = new TransitionBatcher(1, STATE, ACTION, 4);
    for (const t of awkwardTransitions(3)) batch.add(t);
    const frames = encodeTransitions(batch.flush() as TransitionBatch);
    const other = new Packr({ useRecords: false });
    actor.sendRaw([Buffer.from([0xc1, 0xff, 0x00])]); // not msgpack
    actor.sendRaw([other.pack({ v: PROTOCOL_VERSION + 1, kind: 'heartbeat', actorId: 1, sentAtMs: 0 })]); // wrong version
    actor.sendRaw([other.pack({ v: PROTOCOL_VERSION, kind: 'heartbeat', actorId: -4 })]); // fails the schema
    actor.sendRaw([other.pack({ v: PROTOCOL_VERSION, kind: 'launch-missiles' })]); // unknown kind
    actor.sendRaw([...frames.slice(0, 4), frames[4]!.subarray(0, 17), frames[5]!]); // truncated next states
    actor.sendRaw(frames.slice(0, 3)); // frames missing
    actor.sendRaw([other.pack([1, 2, 3])]); // a list, not a map
    actor.sendHeartbeat();
    actor.sendRaw(frames); // the intact batch still arrives
    await until(() => (got.length === 2 ? true : undefined), 'the two valid messages');
    assert.equal(learner.dropped.total, 7);
    const reasons = Object.keys(learner.dropped.counts()).join(' | ');
    for (const expected of [
      'not msgpack',
      `protocol version ${PROTOCOL_VERSION + 1}`,
      'invalid header',
      'truncated',
      'has 3 frames',
    ])
      assert.ok(reasons.includes(expected), `${expected} in ${reasons}`);
    assert.deepEqual(
      got.map((m) => m.header.kind),
      ['heartbeat', 'transitions'],
    );
    // The downlink's decoder refuses a truncated weights frame the same way.
    const w = encodeWeights(
      { v: PROTOCOL_VERSION, kind: 'weights', incarnation: 'x', version: 1, size: 10, updates: 0, learningEpisodes: 0 },
      new Float32Array(10),
    );
    const truncated = decodeDownlink([w[0]!, w[1]!.subarray(0, 39)]);
    assert.ok(!truncated.ok && truncated.reason.includes('truncated'));
    assert.ok(!decodeDownlink([encodeHeader({ v: 0, kind: 'heartbeat' })]).ok);
  } finally {
    close();
  }
});

test('a non-loopback endpoint without CURVE keys is refused with a one-line error; loopback needs none', () => {
  for (const ep of ['tcp://0.0.0.0:5755', 'tcp://*:5755', 'tcp://192.0.2.7:5755', 'tcp://car.local:5755']) {
    assert.equal(isLoopback(ep), false, ep);
    for (const check of [
      () => serverSecurity({ uplink: ep, downlink: 'tcp://127.0.0.1:5756' }, null),
      () => clientSecurity({ uplink: 'tcp://127.0.0.1:5756', downlink: ep }, null),
    ]) {
      assert.throws(
        check,
        (err: unknown) =>
          err instanceof UserError &&
          !err.message.includes('\n') &&
          err.message.includes(ep) &&
          err.message.includes('CURVE'),
      );
    }
  }
  for (const ep of [
    'tcp://127.0.0.1:5755',
    'tcp://127.3.2.1:*',
    'tcp://[::1]:5755',
    'tcp://localhost:1',
    'ipc:///tmp/x',
    'inproc://x',
  ])
    assert.equal(isLoopback(ep), true, ep);
  assert.equal(serverSecurity({ uplink: 'tcp://127.0.0.1:1', downlink: 'tcp://127.0.0.1:2' }, null), null);
  assert.throws(() => parseEndpoints('tcp://127.0.0.1:1', '--learner-endpoints'), /two endpoints/);
  assert.throws(() => checkEndpoint('http://x:1', 'endpoint'), /not a ZeroMQ endpoint/);
  const server = keyPair();
  assert.throws(
    () =>
      serverSecurity(
        { uplink: 'tcp://0.0.0.0:1', downlink: 'tcp://0.0.0.0:2' },
        { serverPublicKey: server.publicKey, serverSecretKey: server.secretKey },
      ),
    /allowedClientKeys/,
  );
});

test('CURVE with the ZAP allow-list: a listed client key gets through, any other key does not', async () => {
  const server = keyPair();
  const allowed = keyPair();
  const stranger = keyPair();
  const keys = (client: { publicKey: string; secretKey: string }) => ({
    serverPublicKey: server.publicKey,
    serverSecretKey: server.secretKey,
    allowedClientKeys: [allowed.publicKey],
    clientPublicKey: client.publicKey,
    clientSecretKey: client.secretKey,
  });
  const endpoints = { uplink: 'tcp://127.0.0.1:*', downlink: 'tcp://127.0.0.1:*' };
  const serverCurve = serverSecurity(endpoints, keys(allowed));
  assert.ok(serverCurve);
  const { learner, actor, close } = await linkPair(0, {
    server: serverCurve,
    client: clientSecurity(endpoints, keys(allowed))!,
  });
  const { ActorLink } = await import('../../src/transport/actor-link.js');
  const intruder = new ActorLink(learner.endpoints, 9, clientSecurity(endpoints, keys(stranger)));
  try {
    const got: UplinkMessage[] = [];
    learner.receive((m) => got.push(m));
    intruder.sendHeartbeat();
    actor.sendHeartbeat();
    await until(() => (got.length >= 1 ? true : undefined), 'the allowed client');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      got.map((m) => (m.header.kind === 'heartbeat' ? m.header.actorId : -1)),
      [0],
    );
    assert.equal(z85Encode(Buffer.alloc(4)), '00000');
  } finally {
    intruder.close();
    close();
  }
});

test('an actor drops and counts malformed, truncated and wrong-version broadcasts, and takes the valid ones', async () => {
  const zmq = await import('zeromq');
  const { ActorLink } = await import('../../src/transport/actor-link.js');
  const pub = new zmq.Publisher({ linger: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  const endpoint = pub.lastEndpoint!;
  const actor = new ActorLink({ uplink: endpoint.replace(/:\d+$/, ':1'), downlink: endpoint }, 0, null);
  try {
    const got = collect(actor);
    const other = new Packr({ useRecords: false });
    const weights = encodeWeights(
      { v: PROTOCOL_VERSION, kind: 'weights', incarnation: 'x', version: 1, size: 8, updates: 0, learningEpisodes: 0 },
      new Float32Array(8).fill(0.5),
    );
    const heartbeat = [
      encodeHeader({
        v: PROTOCOL_VERSION,
        kind: 'heartbeat',
        incarnation: 'x',
        sentAtMs: 1,
        updates: 0,
        replaySize: 0,
        learningEpisodes: 0,
        optimising: false,
        actorsAlive: 0,
      }),
    ];
    // Until the subscription is through, then one round of garbage and the valid messages.
    await until(() => {
      void pub.send(heartbeat);
      return got.length > 0 ? true : undefined;
    }, 'the subscription');
    got.length = 0;
    const garbage = [
      [Buffer.from('not msgpack at all')],
      [other.pack({ ...other.unpack(heartbeat[0]!), v: 99 })],
      [weights[0]!, weights[1]!.subarray(0, 30)],
      [weights[0]!],
      [heartbeat[0]!, Buffer.from('extra')],
    ];
    for (const frames of garbage) await pub.send(frames);
    await pub.send(weights);
    await until(() => (got.some((m) => 'weights' in m) ? true : undefined), 'the valid weights');
    assert.equal(actor.dropped.total, garbage.length, JSON.stringify(actor.dropped.counts()));
  } finally {
    actor.close();
    pub.close();
  }
});
