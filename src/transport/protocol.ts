import { z } from 'zod';

/**
 * The actor/learner protocol's messages (docs/transport.md). Every message is a ZeroMQ multipart
 * message: a msgpack header (validated here), then raw binary frames for the bulk data, so
 * transitions and weights cross the link as the bytes of their Float32Arrays, bit-exact.
 *
 *   uplink   actor -> learner (PUSH/PULL): hello, transitions, episode, heartbeat, task
 *   downlink learner -> actors (PUB/SUB):  weights, event, heartbeat
 *
 * One uplink socket per actor keeps an actor's transitions and its episode end in order.
 */

/** Bumped on any incompatible change; a message of another version is dropped and counted. */
export const PROTOCOL_VERSION = 1;

/** How often each end of a link sends its heartbeat (both ways: actor to learner, learner to actors). */
export const HEARTBEAT_MS = 250;
/** A peer of a link (an actor at the learner, the learner at an actor) not heard from for this long counts as gone. */
export const PEER_TIMEOUT_MS = 5000;

const base = { v: z.literal(PROTOCOL_VERSION) };
const actorId = z.number().int().min(0).max(1_000_000);
const episodeMode = z.enum(['explore', 'train', 'test']);

/** An actor (re)joins: the learner answers with its current weights. */
export const helloSchema = z
  .object({
    ...base,
    kind: z.literal('hello'),
    actorId,
    pid: z.number().int(),
    stateSize: z.number().int().min(1),
    actionSize: z.number().int().min(1),
  })
  .strict();

/**
 * A batch of `count` transitions, followed by five frames: states (f32, count x stateSize),
 * actions (f32, count x actionSize), rewards (f64, count), next states (f32), terminated (u8).
 * Rewards stay float64 so the learner's n-step sums see what a single process would.
 */
export const transitionsSchema = z
  .object({
    ...base,
    kind: z.literal('transitions'),
    actorId,
    seq: z.number().int().min(0),
    count: z.number().int().min(1).max(65_536),
    stateSize: z.number().int().min(1),
    actionSize: z.number().int().min(1),
  })
  .strict();

/** An actor's episode ended (after its last transitions): flushes its n-step window; a learning episode is optimised on. */
export const episodeSchema = z
  .object({
    ...base,
    kind: z.literal('episode'),
    actorId,
    mode: episodeMode,
    steps: z.number().int().min(0),
    distanceM: z.number(),
    intervention: z.string().nullable(),
    routeCompleted: z.boolean(),
    worldS: z.number().min(0),
    agentS: z.number().min(0),
  })
  .strict();

/** Liveness, both ways. The learner's carries what a coordinator or the car shows. */
export const actorHeartbeatSchema = z
  .object({ ...base, kind: z.literal('heartbeat'), actorId, sentAtMs: z.number() })
  .strict();

export const TASK_COMMANDS = ['checkpoint', 'stop', 'undo'] as const;
/** A coordinator's (the train command's, the car's) command to the learner. */
export const taskSchema = z
  .object({ ...base, kind: z.literal('task'), command: z.enum(TASK_COMMANDS), requestId: z.number().int().min(0) })
  .strict();

export const uplinkHeaderSchema = z.discriminatedUnion('kind', [
  helloSchema,
  transitionsSchema,
  episodeSchema,
  actorHeartbeatSchema,
  taskSchema,
]);

/**
 * The actor's policy weights, followed by one f32 frame of `size` values (the flat actor
 * parameters). `incarnation` names one learner process's life: a restarted learner starts a new
 * one, so actors accept its weights although its `version` counts from its checkpoint again.
 */
export const weightsSchema = z
  .object({
    ...base,
    kind: z.literal('weights'),
    incarnation: z.string().min(1).max(64),
    version: z.number().int().min(0),
    size: z.number().int().min(1),
    updates: z.number().int().min(0),
    /** Learning episodes the learner had optimised on when it published these weights. */
    learningEpisodes: z.number().int().min(0),
  })
  .strict();

const updateStats = z
  .object({
    updates: z.number(),
    criticLoss: z.number(),
    actorLoss: z.number(),
    meanQ: z.number(),
    skipped: z.number(),
  })
  .strict();

export const LEARNER_EVENTS = ['learned', 'checkpointed', 'task-done', 'task-refused', 'stopping'] as const;
/** Something the learner did: an episode optimised on ('learned'), a checkpoint, a task's outcome, its shutdown. */
export const eventSchema = z
  .object({
    ...base,
    kind: z.literal('event'),
    name: z.enum(LEARNER_EVENTS),
    incarnation: z.string(),
    learningEpisodes: z.number().int().min(0),
    /** 'learned': the episode as its actor reported it, the update stats and the optimisation time. */
    episode: episodeSchema.omit({ v: true, kind: true }).optional(),
    update: updateStats.nullable().optional(),
    optimiseS: z.number().min(0).optional(),
    requestId: z.number().int().min(0).optional(),
    detail: z.string().optional(),
  })
  .strict();

export const learnerHeartbeatSchema = z
  .object({
    ...base,
    kind: z.literal('heartbeat'),
    incarnation: z.string(),
    sentAtMs: z.number(),
    updates: z.number().int().min(0),
    replaySize: z.number().int().min(0),
    learningEpisodes: z.number().int().min(0),
    optimising: z.boolean(),
    /** Actors heard from within the liveness timeout. */
    actorsAlive: z.number().int().min(0),
  })
  .strict();

export const downlinkHeaderSchema = z.discriminatedUnion('kind', [weightsSchema, eventSchema, learnerHeartbeatSchema]);

export type Hello = z.output<typeof helloSchema>;
export type TransitionsHeader = z.output<typeof transitionsSchema>;
export type EpisodeMessage = z.output<typeof episodeSchema>;
export type ActorHeartbeat = z.output<typeof actorHeartbeatSchema>;
export type TaskMessage = z.output<typeof taskSchema>;
export type TaskCommandName = (typeof TASK_COMMANDS)[number];
export type UplinkHeader = z.output<typeof uplinkHeaderSchema>;
export type WeightsHeader = z.output<typeof weightsSchema>;
export type LearnerEvent = z.output<typeof eventSchema>;
export type LearnerHeartbeat = z.output<typeof learnerHeartbeatSchema>;
export type DownlinkHeader = z.output<typeof downlinkHeaderSchema>;
