/**
 * The real-ROS tests' access to rclnodejs: loaded where ROS 2 is sourced and rclnodejs built
 * (docs/ros.md, *Testing against a real ROS 2*), else every such test is skipped with the reason.
 * Under CI=true a missing ROS 2 is a failure, not a skip: CI builds it (.ci/run) and must run them.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { loadRclnodejs } from '../../src/ros/load.js';
import type { RclModule } from '../../src/ros/rclnodejs-types.js';

/**
 * The parts of rclnodejs the tests use beyond the node's narrow interface (rclnodejs 2.2.0's
 * index.js, node.js, context.js, qos.js, client.js).
 */
export interface RealRcl extends RclModule {
  readonly Context: new () => RealContext;
  readonly QoS: RclModule['QoS'] & {
    new (history?: number, depth?: number, reliability?: number, durability?: number): unknown;
    readonly ReliabilityPolicy: {
      readonly RMW_QOS_POLICY_RELIABILITY_RELIABLE: number;
      readonly RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: number;
    };
    readonly HistoryPolicy: { readonly RMW_QOS_POLICY_HISTORY_KEEP_LAST: number };
    readonly DurabilityPolicy: { readonly RMW_QOS_POLICY_DURABILITY_VOLATILE: number };
  };
  init(context?: RealContext, argv?: string[]): Promise<void>;
  readonly Node: new (nodeName: string, namespace?: string, context?: RealContext) => RealNode;
}

export interface RealContext {
  shutdown(): void;
}

export interface RealClient<Req, Res> {
  waitForService(timeoutMs?: number): Promise<boolean>;
  sendRequest(request: Req, callback: (response: Res) => void): void;
}

export interface RealNode extends InstanceType<RclModule['Node']> {
  createPublisher<M>(typeClass: string, topic: string, options?: { qos?: unknown }): { publish(message: M): void };
  createSubscription<M>(
    typeClass: string,
    topic: string,
    options: { qos?: unknown },
    callback: (message: M) => void,
  ): unknown;
  createClient<Req, Res>(typeClass: string, serviceName: string): RealClient<Req, Res>;
  destroyPublisher(publisher: unknown): void;
  getParameter(name: string): { readonly name: string; readonly type: number; readonly value: unknown };
}

/** rclnodejs, or why it cannot be used here. */
async function load(): Promise<RealRcl | string> {
  if (!process.env.ROS_DISTRO)
    return 'needs a sourced ROS 2 (ROS_DISTRO is not set) and rclnodejs built against it: docs/ros.md, Testing against a real ROS 2';
  try {
    return (await loadRclnodejs()) as RealRcl;
  } catch (err) {
    return `rclnodejs does not load: ${(err as Error).message.split('\n')[0]}`;
  }
}

const loaded = await load();
let initialised = false;

/** Why the real-ROS tests are skipped here (false where they run). */
export const realRosSkip: string | false = typeof loaded === 'string' && process.env.CI !== 'true' ? loaded : false;

/**
 * rclnodejs, initialised once per process (the default context). Under CI=true without ROS 2 the
 * calling test fails with the reason.
 */
export async function realRcl(): Promise<RealRcl> {
  if (typeof loaded === 'string') assert.fail(`CI=true but the real-ROS tests cannot run: ${loaded}`);
  if (!initialised) {
    await loaded.init();
    initialised = true;
  }
  return loaded;
}

/** A test that needs the real ROS 2: skipped with the reason where it is missing (not under CI). */
export function rosTest(name: string, fn: (t: TestContext) => Promise<void>, timeoutMs = 60_000): void {
  test(name, { skip: realRosSkip, timeout: timeoutMs }, fn);
}

/** A name no other test process uses (files run in parallel on one DDS domain). */
export function uniqueNamespace(what: string): string {
  return `/dd_${what}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` holds, polling every 10 ms; fails after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
