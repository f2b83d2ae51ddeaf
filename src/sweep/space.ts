import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeIssues } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { drivingLearnerInput } from '../agent/create.js';
import { trainConfigSchema, type TrainConfig } from '../jobs/train-config.js';
import { explorationConfigSchema, learnerConfigFor } from '../rl/config.js';

/**
 * The search space of a sweep (docs/sweep.md): a YAML file naming train-config paths
 * (`learner.discount`, `agent.optimisationSteps`, ...) with a distribution or a fixed value each,
 * on top of a base train config. Every path and every bound is checked against the train config's
 * own schema when the file is read, so a wrong path or an impossible value is named at once.
 */

const pair = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo <= hi, { message: 'the lower bound is above the upper bound' });
/** `when: { exploration.type: ou }`: the parameter exists only while that earlier parameter has that value (or one of a list). */
const whenSchema = z.record(z.string(), z.unknown()).optional();

const uniformEntry = z.object({ uniform: pair, when: whenSchema }).strict();
const loguniformEntry = z
  .object({
    loguniform: pair.refine(([lo]) => lo > 0, { message: 'loguniform bounds must be positive' }),
    /** value = 1 - x: rl-zoo3's discount, gamma = 1 - loguniform[1e-4, 0.03]. */
    oneMinus: z.boolean().default(false),
    when: whenSchema,
  })
  .strict();
const intEntry = z
  .object({
    int: pair.refine(([lo, hi]) => Number.isInteger(lo) && Number.isInteger(hi), {
      message: 'int bounds must be integers',
    }),
    log: z.boolean().default(false),
    when: whenSchema,
  })
  .strict()
  .refine((e) => !e.log || e.int[0] >= 1, { message: 'a log int range must start at 1 or more' });
const choiceEntry = z.object({ choice: z.array(z.unknown()).min(1), when: whenSchema }).strict();
const fixedEntry = z.object({ fixed: z.unknown(), when: whenSchema }).strict();
const entrySchema = z.union([
  uniformEntry,
  loguniformEntry,
  intEntry,
  choiceEntry,
  fixedEntry,
  z.union([z.number(), z.string(), z.boolean(), z.array(z.unknown()), z.null()]),
]);

export const OBJECTIVE_KEYS = ['cleanShare', 'metresPerDisengagement', 'trainingEpisodes'] as const;
export type ObjectiveKey = (typeof OBJECTIVE_KEYS)[number];

const spaceFileSchema = z
  .object({
    /** A train config (partial) every trial starts from; the parameters are set on top. */
    base: z.record(z.string(), z.unknown()).default({}),
    parameters: z
      .record(z.string(), entrySchema)
      .refine((p) => Object.keys(p).length > 0, { message: 'the space has no parameter' }),
    /** The objective's keys in order of importance (ties of one broken by the next). */
    objective: z
      .array(z.enum(OBJECTIVE_KEYS))
      .min(1)
      .default([...OBJECTIVE_KEYS]),
    /** Unseen evaluation roads of every trial seed (the same roads for every trial). */
    evaluation: z
      .object({
        roads: z.number().int().min(1).max(1000).default(5),
        seed: z.number().int().min(0).max(99_999).default(0),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Distribution =
  | {
      readonly kind: 'float';
      readonly low: number;
      readonly high: number;
      readonly log: boolean;
      readonly oneMinus: boolean;
    }
  | { readonly kind: 'int'; readonly low: number; readonly high: number; readonly log: boolean }
  | { readonly kind: 'categorical'; readonly choices: readonly unknown[] }
  | { readonly kind: 'fixed'; readonly value: unknown };

export interface Condition {
  readonly path: string;
  readonly values: readonly unknown[];
}

export interface Parameter {
  readonly path: string;
  readonly distribution: Distribution;
  readonly when: readonly Condition[];
}

export interface SearchSpace {
  readonly base: Record<string, unknown>;
  readonly parameters: readonly Parameter[];
  readonly objective: readonly ObjectiveKey[];
  readonly evaluation: { readonly roads: number; readonly seed: number };
}

/** A configuration's parameter values by path (inactive conditional parameters absent). */
export type Params = Record<string, unknown>;

function toDistribution(entry: z.output<typeof entrySchema>): {
  distribution: Distribution;
  when: Record<string, unknown> | undefined;
} {
  if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
    if ('uniform' in entry)
      return {
        distribution: { kind: 'float', low: entry.uniform[0], high: entry.uniform[1], log: false, oneMinus: false },
        when: entry.when,
      };
    if ('loguniform' in entry)
      return {
        distribution: {
          kind: 'float',
          low: entry.loguniform[0],
          high: entry.loguniform[1],
          log: true,
          oneMinus: entry.oneMinus,
        },
        when: entry.when,
      };
    if ('int' in entry)
      return { distribution: { kind: 'int', low: entry.int[0], high: entry.int[1], log: entry.log }, when: entry.when };
    if ('choice' in entry) return { distribution: { kind: 'categorical', choices: entry.choice }, when: entry.when };
    return { distribution: { kind: 'fixed', value: entry.fixed }, when: entry.when };
  }
  return { distribution: { kind: 'fixed', value: entry }, when: undefined };
}

/** The values a parameter can take that are worth checking against the schema: its bounds, every choice, the fixed value. */
function probeValues(d: Distribution): unknown[] {
  switch (d.kind) {
    case 'float':
      return d.oneMinus ? [1 - d.low, 1 - d.high] : [d.low, d.high];
    case 'int':
      return [d.low, d.high];
    case 'categorical':
      return [...d.choices];
    case 'fixed':
      return [d.value];
  }
}

/** `value` at `path` (dot-separated) in a deep copy of `target`, creating objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const out = structuredClone(target);
  const keys = path.split('.');
  let node: Record<string, unknown> = out;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = structuredClone(value);
  return out;
}

/** The value at `path` (dot-separated) in `source`, or undefined. */
export function getPath(source: Record<string, unknown>, path: string): unknown {
  let node: unknown = source;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The parameters of the space's base configuration as the train config's defaults complete it
 * (Optuna's `enqueue_trial` of the current settings): the reference every sampled configuration
 * is compared with. Conditional parameters are taken where the defaults satisfy their conditions.
 */
export function defaultParams(space: SearchSpace): Params {
  const parsed = trainConfigSchema.parse(space.base);
  const exploration = explorationConfigSchema.parse(parsed.exploration);
  const learner = learnerConfigFor(parsed.algo, drivingLearnerInput(parsed.algo, exploration, parsed.learner));
  const config: Record<string, unknown> = { ...parsed, exploration, learner };
  const params: Params = {};
  for (const p of space.parameters) if (isActive(p, params)) params[p.path] = getPath(config, p.path);
  return params;
}

/** The parameter is active under `params` (its conditions name earlier parameters). */
export function isActive(parameter: Parameter, params: Params): boolean {
  return parameter.when.every((c) => c.path in params && c.values.some((v) => sameValue(v, params[c.path])));
}

export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The train config input of a configuration: the base with every active parameter set. */
export function configInput(space: SearchSpace, params: Params): Record<string, unknown> {
  let out = structuredClone(space.base);
  for (const p of space.parameters) if (p.path in params) out = setPath(out, p.path, params[p.path]);
  return out;
}

/** The parsed train config of a configuration, or the reason it is invalid (one line, fields named). */
export function validateConfiguration(
  space: SearchSpace,
  params: Params,
): { ok: true; config: TrainConfig } | { ok: false; reason: string } {
  const parsed = trainConfigSchema.safeParse(configInput(space, params));
  return parsed.success
    ? { ok: true, config: parsed.data }
    : { ok: false, reason: describeIssues(parsed.error.issues) };
}

// ---- the unit cube and the samplers' internal coordinates ----

/** The value at quantile u in [0, 1) of a distribution (the inverse CDF of its uniform on the internal scale). */
export function fromUnit(d: Distribution, u: number): unknown {
  switch (d.kind) {
    case 'categorical':
      return d.choices[Math.min(d.choices.length - 1, Math.floor(u * d.choices.length))];
    case 'fixed':
      return d.value;
    default: {
      const [lo, hi] = internalBounds(d);
      return fromInternal(d, lo + u * (hi - lo));
    }
  }
}

/**
 * The internal scale the samplers work on: log for log ranges, integers widened by half a step
 * on each side (each integer gets an equal share), the index of a choice.
 */
export function internalBounds(d: Distribution): [number, number] {
  switch (d.kind) {
    case 'float':
      return d.log ? [Math.log(d.low), Math.log(d.high)] : [d.low, d.high];
    case 'int':
      return d.log ? [Math.log(d.low - 0.5), Math.log(d.high + 0.5)] : [d.low - 0.5, d.high + 0.5];
    case 'categorical':
      return [0, d.choices.length - 1];
    case 'fixed':
      return [0, 0];
  }
}

export function fromInternal(d: Distribution, x: number): unknown {
  switch (d.kind) {
    case 'float': {
      const v = Math.min(d.high, Math.max(d.low, d.log ? Math.exp(x) : x));
      return d.oneMinus ? 1 - v : v;
    }
    case 'int':
      return Math.min(d.high, Math.max(d.low, Math.round(d.log ? Math.exp(x) : x)));
    case 'categorical':
      return d.choices[Math.min(d.choices.length - 1, Math.max(0, Math.round(x)))];
    case 'fixed':
      return d.value;
  }
}

export function toInternal(d: Distribution, value: unknown): number {
  switch (d.kind) {
    case 'float': {
      const v = d.oneMinus ? 1 - Number(value) : Number(value);
      return d.log ? Math.log(v) : v;
    }
    case 'int':
      return d.log ? Math.log(Number(value)) : Number(value);
    case 'categorical':
      return Math.max(
        0,
        d.choices.findIndex((c) => sameValue(c, value)),
      );
    case 'fixed':
      return 0;
  }
}

/** A configuration from one quantile per parameter (fixed parameters need none). */
export function paramsFromUnits(space: SearchSpace, units: (p: Parameter, index: number) => number): Params {
  const params: Params = {};
  space.parameters.forEach((p, i) => {
    if (isActive(p, params)) params[p.path] = fromUnit(p.distribution, units(p, i));
  });
  return params;
}

// ---- reading and checking ----

/** Only these zod issues say a path or value does not fit the schema; cross-field rules are checked on whole configurations. */
const SCHEMA_ISSUES = new Set([
  'unrecognized_keys',
  'invalid_type',
  'too_small',
  'too_big',
  'invalid_value',
  'invalid_union',
  'invalid_format',
  'not_multiple_of',
]);

/**
 * Checks every parameter against the train config schema: each probe value (bounds, choices, the
 * fixed value) set on a reference configuration (every other parameter at its first value, this
 * one's conditions met). Throws a UserError naming the parameter, the value and the field.
 */
function checkAgainstSchema(space: SearchSpace, source: string): void {
  const base = trainConfigSchema.safeParse(space.base);
  if (!base.success) throw new UserError(`${source}: base: invalid train config: ${describeIssues(base.error.issues)}`);
  for (const p of space.parameters) {
    for (const value of probeValues(p.distribution)) {
      // Every other parameter at its first value (those this one depends on at the value it needs), then activity re-derived in order.
      const forced = new Map<string, unknown>(p.when.map((c) => [c.path, c.values[0]]));
      forced.set(p.path, value);
      const params: Params = {};
      for (const q of space.parameters)
        if (isActive(q, params)) params[q.path] = forced.has(q.path) ? forced.get(q.path) : fromUnit(q.distribution, 0);
      const parsed = trainConfigSchema.safeParse(configInput(space, params));
      if (parsed.success) continue;
      const issues = parsed.error.issues.filter((i) => SCHEMA_ISSUES.has(i.code));
      if (issues.length > 0)
        throw new UserError(
          `${source}: parameter ${p.path} (value ${JSON.stringify(value)}): ${describeIssues(issues)}`,
        );
    }
  }
}

/**
 * A space that parses but has no valid configuration (cross-field rules such as vMin < vMax) is
 * refused before any trial runs: `samples` random configurations are checked.
 */
function checkSomeValid(space: SearchSpace, source: string, samples = 200): void {
  const rng = Rng.fromSeed(12345);
  let reason = '';
  for (let i = 0; i < samples; i++) {
    const check = validateConfiguration(
      space,
      paramsFromUnits(space, () => rng.uniform()),
    );
    if (check.ok) return;
    reason ||= check.reason;
  }
  throw new UserError(
    `${source}: no valid configuration: ${samples} sampled configurations are all invalid, e.g. ${reason}`,
  );
}

export function parseSpace(raw: unknown, source: string): SearchSpace {
  const parsed = spaceFileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new UserError(`invalid ${source}: ${describeIssues(parsed.error.issues)}`);
  const parameters: Parameter[] = [];
  for (const [path, entry] of Object.entries(parsed.data.parameters)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(path))
      throw new UserError(`${source}: parameter '${path}' is not a dotted train-config path (e.g. learner.discount)`);
    const { distribution, when } = toDistribution(entry);
    const conditions: Condition[] = Object.entries(when ?? {}).map(([cpath, v]) => {
      if (!parameters.some((q) => q.path === cpath))
        throw new UserError(
          `${source}: parameter ${path}: 'when' names ${cpath}, which is not an earlier parameter of the space`,
        );
      return { path: cpath, values: Array.isArray(v) ? v : [v] };
    });
    if (parameters.some((q) => path.startsWith(`${q.path}.`) || q.path.startsWith(`${path}.`)))
      throw new UserError(`${source}: parameter ${path} overlaps another parameter's path`);
    parameters.push({ path, distribution, when: conditions });
  }
  const space: SearchSpace = {
    base: parsed.data.base,
    parameters,
    objective: parsed.data.objective,
    evaluation: parsed.data.evaluation,
  };
  checkAgainstSchema(space, source);
  checkSomeValid(space, source);
  return space;
}

/** Reads and checks a space file; the text is returned too (the sweep directory keeps it). */
export async function readSpaceFile(path: string): Promise<{ space: SearchSpace; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read space ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UserError(`space ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return { space: parseSpace(raw, `space ${path}`), text };
}
