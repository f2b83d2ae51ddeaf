/**
 * An in-process stand-in for rclnodejs (the shapes of src/ros/rclnodejs-types.ts): messages are
 * delivered to the node's subscriptions as rclnodejs delivers them (plain objects, Uint8Array
 * data, header stamps), everything published is recorded per topic, services can be called, and
 * parameters declared with overrides as a --params-file would give them.
 *
 * Two clocks: 'manual' (the default; `advance(ms)` moves ROS time and fires due timers, so tests
 * are exact and fast) and 'real' (wall-clock time and setInterval timers, for the benchmark).
 */
import type {
  RclEntityOptions,
  RclModule,
  RclNode,
  RclParameter,
  RclParameterDescriptor,
  RclPublisher,
  RclServiceResponse,
  RclTime,
  RclTimer,
} from '../../src/ros/rclnodejs-types.js';
import { performance } from 'node:perf_hooks';
import { RCL_PARAMETER_TYPE } from '../../src/ros/rclnodejs-types.js';

export type ClockMode = 'manual' | 'real';

interface FakeSubscription {
  readonly type: string;
  readonly options: RclEntityOptions;
  readonly callback: (message: unknown) => void;
}

export interface FakeTimer extends RclTimer {
  readonly periodNs: bigint;
  /** Times the callback has run (tests count policy ticks with it). */
  fired: number;
  nextNs: bigint;
  cancelled: boolean;
  readonly callback: () => void;
  interval: NodeJS.Timeout | null;
}

class FakeParameter implements RclParameter {
  constructor(
    readonly name: string,
    readonly type: number,
    readonly value: unknown,
  ) {}
}

class FakeParameterDescriptor implements RclParameterDescriptor {
  constructor(
    readonly name: string,
    readonly type: number,
    readonly description = '',
    readonly readOnly = false,
  ) {}
}

/** Wall-clock start of the 'real' clock, so ROS times look like epoch times. */
const EPOCH_NS = 1_700_000_000_000_000_000n;

export class FakeNode implements RclNode {
  readonly subscriptions = new Map<string, FakeSubscription>();
  readonly publishers = new Map<string, { type: string; options: RclEntityOptions | undefined; messages: unknown[] }>();
  readonly services = new Map<
    string,
    { type: string; callback: (request: unknown, response: RclServiceResponse<unknown>) => void }
  >();
  readonly declared = new Map<string, { parameter: RclParameter; descriptor: RclParameterDescriptor | undefined }>();
  readonly timers: FakeTimer[] = [];
  spinning = false;
  destroyed = false;
  /** performance.now() of every publish (any topic) and of destroy(): the shutdown flush is tested on them. */
  readonly publishedAtMs: number[] = [];
  destroyedAtMs: number | null = null;
  private clockNs = EPOCH_NS;
  private readonly realStartNs = process.hrtime.bigint();

  constructor(
    private readonly nodeName: string,
    private readonly overrides: Readonly<Record<string, unknown>>,
    readonly clock: ClockMode,
    private readonly nodeNamespace = '/',
  ) {}

  name(): string {
    return this.nodeName;
  }

  namespace(): string {
    return this.nodeNamespace;
  }

  now(): RclTime {
    return {
      nanoseconds: this.clock === 'manual' ? this.clockNs : EPOCH_NS + (process.hrtime.bigint() - this.realStartNs),
    };
  }

  createPublisher<M>(typeClass: string, topic: string, options?: RclEntityOptions): RclPublisher<M> {
    if (this.publishers.has(topic)) throw new Error(`two publishers on ${topic}`);
    const record = { type: typeClass, options, messages: [] as unknown[] };
    this.publishers.set(topic, record);
    return {
      publish: (message: M) => {
        if (this.destroyed) throw new Error(`publish on ${topic} after the node was destroyed`);
        record.messages.push(message);
        this.publishedAtMs.push(performance.now());
      },
    };
  }

  createSubscription<M>(
    typeClass: string,
    topic: string,
    options: RclEntityOptions,
    callback: (message: M) => void,
  ): unknown {
    if (this.subscriptions.has(topic)) throw new Error(`two subscriptions on ${topic}`);
    this.subscriptions.set(topic, { type: typeClass, options, callback: callback as (message: unknown) => void });
    return {};
  }

  createService<Req, Res>(
    typeClass: string,
    serviceName: string,
    _options: RclEntityOptions,
    callback: (request: Req, response: RclServiceResponse<Res>) => void,
  ): unknown {
    this.services.set(serviceName, {
      type: typeClass,
      callback: callback as (request: unknown, response: RclServiceResponse<unknown>) => void,
    });
    return {};
  }

  createTimer(period: bigint, callback: () => void): RclTimer {
    const timer: FakeTimer = {
      periodNs: period,
      fired: 0,
      nextNs: this.now().nanoseconds + period,
      cancelled: false,
      callback: () => {
        timer.fired += 1;
        callback();
      },
      interval: null,
      cancel: () => {
        timer.cancelled = true;
        if (timer.interval) clearInterval(timer.interval);
      },
    };
    if (this.clock === 'real') timer.interval = setInterval(timer.callback, Number(period) / 1e6);
    this.timers.push(timer);
    return timer;
  }

  /**
   * As rclnodejs 2.2's Node.declareParameters: unless ignoreOverride, an override for the name
   * (rclnodejs keeps only the `/**` and bare-node-name ones) replaces the parameter, and one of
   * another type is refused, an integer for a double included ("Parameter <name> does not
   * readonly", rclnodejs's own wording, from _validateParameters). The stand-in's overrides are
   * typed as rcl reads YAML: an integral number is an integer (`10`), any other a double.
   */
  declareParameter(parameter: RclParameter, descriptor?: RclParameterDescriptor, ignoreOverride = false): RclParameter {
    if (this.declared.has(parameter.name)) throw new Error(`Parameter(${parameter.name}) already declared.`);
    let declared = parameter;
    if (!ignoreOverride && parameter.name in this.overrides) {
      const value = this.overrides[parameter.name];
      const type =
        typeof value === 'boolean'
          ? RCL_PARAMETER_TYPE.bool
          : typeof value === 'string'
            ? RCL_PARAMETER_TYPE.string
            : Number.isInteger(value)
              ? RCL_PARAMETER_TYPE.integer
              : RCL_PARAMETER_TYPE.double;
      if (type !== parameter.type) throw new Error(`Parameter ${parameter.name} does not  readonly`);
      declared = new FakeParameter(
        parameter.name,
        type,
        type === RCL_PARAMETER_TYPE.integer ? BigInt(value as number) : value,
      );
    }
    this.declared.set(parameter.name, { parameter: declared, descriptor });
    return declared;
  }

  /** As rclnodejs's Node.setParameters (what the ~/set_parameters service calls): a read-only parameter is refused. */
  setParameters(parameters: readonly RclParameter[]): { successful: boolean; reason: string | null }[] {
    return parameters.map((p) => {
      const entry = this.declared.get(p.name);
      if (!entry) return { successful: false, reason: `Parameter ${p.name} has not been declared` };
      if (entry.descriptor?.readOnly) return { successful: false, reason: `Parameter ${p.name} is readonly` };
      if (p.type !== entry.parameter.type)
        return { successful: false, reason: `Parameter ${p.name} does not  readonly` };
      this.declared.set(p.name, { parameter: p, descriptor: entry.descriptor });
      return { successful: true, reason: null };
    });
  }

  getParameter(name: string): RclParameter {
    return this.declared.get(name)?.parameter ?? new FakeParameter(name, 0, undefined);
  }

  spin(): void {
    this.spinning = true;
  }

  destroy(): void {
    this.destroyed = true;
    this.destroyedAtMs = performance.now();
    for (const t of this.timers) t.cancel();
  }

  // ---- test side ----

  /**
   * Delivers a message to the subscription on `topic` (as the executor would), from a publisher
   * of the given reliability. As DDS matches them (the RxO rule rclnodejs inherits from rmw): a
   * reliable subscription (rclnodejs's default QoS, profileDefault) never hears a best-effort
   * publisher, silently; a best-effort one (profileSensorData) hears both. Returns whether the
   * message was delivered.
   */
  deliver(
    topic: string,
    message: unknown,
    publisher: { readonly reliability: 'reliable' | 'best-effort' } = { reliability: 'reliable' },
  ): boolean {
    const sub = this.subscriptions.get(topic);
    if (!sub) throw new Error(`no subscription on ${topic} (have ${[...this.subscriptions.keys()].join(', ')})`);
    const subscriptionReliable = sub.options.qos === undefined || sub.options.qos === 'qos_profile_default';
    if (subscriptionReliable && publisher.reliability === 'best-effort') return false;
    sub.callback(message);
    return true;
  }

  /** Everything published on `topic`, oldest first. */
  published<M>(topic: string): M[] {
    return (this.publishers.get(topic)?.messages ?? []) as M[];
  }

  /** Calls a service; resolves with what the node sent back. */
  call<Res>(serviceName: string, request: unknown = {}): Res {
    const service = this.services.get(serviceName);
    if (!service) throw new Error(`no service ${serviceName}`);
    let answer: Res | undefined;
    service.callback(request, { send: (response: unknown) => (answer = response as Res) });
    if (answer === undefined) throw new Error(`service ${serviceName} sent no response`);
    return answer;
  }

  /** Manual clock: moves ROS time forward, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    if (this.clock !== 'manual') throw new Error('advance() needs the manual clock');
    const target = this.clockNs + BigInt(Math.round(ms * 1e6));
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.nextNs <= target)
        .sort((a, b) => (a.nextNs < b.nextNs ? -1 : a.nextNs > b.nextNs ? 1 : 0))[0];
      if (!due) break;
      this.clockNs = due.nextNs;
      due.nextNs += due.periodNs;
      due.callback();
    }
    this.clockNs = target;
  }
}

export interface FakeRclOptions {
  /** Parameter overrides, as a --params-file would give them (integers as numbers). */
  readonly overrides?: Readonly<Record<string, unknown>>;
  readonly clock?: ClockMode;
  /** init() takes this long (a slow ROS start, for the signal-during-start tests). */
  readonly initDelayMs?: number;
}

/** The stand-in module: what src/ros/ needs of rclnodejs, plus what tests inspect. */
export class FakeRcl implements RclModule {
  readonly Parameter = FakeParameter;
  readonly ParameterDescriptor = FakeParameterDescriptor;
  readonly QoS = { profileSensorData: 'qos_profile_sensor_data', profileDefault: 'qos_profile_default' };
  readonly Node: new (nodeName: string, namespace?: string) => FakeNode;
  readonly nodes: FakeNode[] = [];
  initArgv: string[] | null = null;
  signalHandlersRemoved = 0;
  shutdownCalls = 0;
  /** The module calls in order ('removeSignalHandlers', 'init', 'shutdown'): signals must be taken over before init. */
  readonly calls: string[] = [];
  private readonly initDelayMs: number;

  constructor(opts: FakeRclOptions = {}) {
    const nodes = this.nodes;
    const overrides = opts.overrides ?? {};
    const clock = opts.clock ?? 'manual';
    this.initDelayMs = opts.initDelayMs ?? 0;
    this.Node = class extends FakeNode {
      constructor(nodeName: string, namespace = '/') {
        super(nodeName, overrides, clock, namespace);
        nodes.push(this);
      }
    };
  }

  async init(_context?: undefined, argv?: string[]): Promise<void> {
    this.calls.push('init');
    if (this.initDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.initDelayMs));
    this.initArgv = argv ?? [];
  }

  removeSignalHandlers(): void {
    this.calls.push('removeSignalHandlers');
    this.signalHandlersRemoved += 1;
  }

  shutdown(): void {
    this.calls.push('shutdown');
    this.shutdownCalls += 1;
  }

  isShutdown(): boolean {
    return this.shutdownCalls > 0;
  }
}
