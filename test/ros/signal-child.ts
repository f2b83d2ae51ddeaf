/**
 * `daydrive drive` in its own process for the signal tests, as the CLI runs it (runDrive: signals
 * taken over right after rclnodejs is loaded, rcl init, parameters, the learning agent, the node,
 * the shutdown flush), on the rclnodejs stand-in with a real clock, exiting with the CLI's exit
 * status (0 after a clean stop). Prints "starting" once runDrive has been called, "driving" once
 * commands with speed > 0 go out, and at the end one JSON line: the speeds published, why it
 * stopped, the order of the rclnodejs calls and the time from the last publish to destroy().
 *
 * DAYDRIVE_TEST_INIT_DELAY_MS makes rcl init slow (a signal during the start).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDrive } from '../../src/ros/run.js';
import type { AckermannDriveStampedMsg } from '../../src/ros/rclnodejs-types.js';
import { FakeRcl } from './fake-rclnodejs.js';
import { odometryMsg, rawImageMsg, testImage } from './helpers.js';

const dir = await mkdtemp(join(tmpdir(), 'daydrive-signal-'));
const config = join(dir, 'agent.yaml');
// Pixel state: no VAE needed; the first (explore) episode drives with random actions, speed > 0.
await writeFile(config, 'seed: 1\nagent:\n  state: pixels\n  pixels: {widthPx: 16, heightPx: 16}\n');
const rcl = new FakeRcl({ clock: 'real', initDelayMs: Number(process.env.DAYDRIVE_TEST_INIT_DELAY_MS ?? 0) });
const run = runDrive({
  rcl,
  rosArgs: ['-p', `config_file:=${config}`, '-p', 'camera_width_px:=64', '-p', 'camera_height_px:=48'],
});
process.stdout.write('starting\n');
const frame = testImage(64, 48);
let started = false;
let driving = false;
const camera = setInterval(() => {
  const node = rcl.nodes[0];
  if (!node?.services.has('~/train') || node.destroyed) return;
  const stamp = node.now().nanoseconds;
  node.deliver('camera/image_raw', rawImageMsg(frame, stamp));
  node.deliver('odom', odometryMsg(1, stamp));
  // The safety driver's heartbeat: the driver has handed the car over.
  node.deliver('safety_driver/has_control', { data: false });
  if (!started) {
    started = true;
    node.call('~/train');
  }
  if (!driving && node.published<AckermannDriveStampedMsg>('ackermann_cmd').some((c) => c.drive.speed > 0)) {
    driving = true;
    process.stdout.write('driving\n');
  }
}, 33);
const summary = await run;
clearInterval(camera);
const node = rcl.nodes[0];
const lastPublishMs = node?.publishedAtMs.at(-1);
process.stdout.write(
  JSON.stringify({
    speeds: node?.published<AckermannDriveStampedMsg>('ackermann_cmd').map((c) => c.drive.speed) ?? [],
    endedBy: summary.endedBy,
    calls: rcl.calls,
    nodes: rcl.nodes.length,
    flushMs: node?.destroyedAtMs != null && lastPublishMs !== undefined ? node.destroyedAtMs - lastPublishMs : null,
  }) + '\n',
);
// The CLI's exit status after a clean stop, signalled or not (src/cli/drive.ts).
process.exit(0);
