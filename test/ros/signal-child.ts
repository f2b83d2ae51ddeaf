/**
 * A driving node in its own process (rclnodejs stand-in, real clock) for the signal tests:
 * prints "driving" once commands with speed > 0 go out, and on shutdown the speeds it published
 * and why it stopped, as one JSON line.
 */
import { takeOverSignals } from '../../src/ros/signals.js';
import { makeHarness, odometryMsg, rawImageMsg, ScriptedController, testImage } from './helpers.js';

const frame = testImage(64, 48);
const h = makeHarness(new ScriptedController(() => [0, 1]), { camera_width_px: 64, camera_height_px: 48 }, 'real');
takeOverSignals(h.rcl, (signal) => h.drive.shutdown(signal));
const camera = setInterval(() => {
  h.ros.deliver(h.params.camera_topic, rawImageMsg(frame, h.nowNs()));
  h.ros.deliver(h.params.speed_topic, odometryMsg(1, h.nowNs()));
  if (h.commands().some((c) => c.drive.speed > 0)) process.stdout.write('driving\n');
}, 33);
h.ros.deliver(h.params.safety_driver_topic, { data: false });
h.drive.command('train');
const summary = await h.drive.finished;
clearInterval(camera);
await h.drive.idle({ optimisation: false });
h.ros.destroy();
process.stdout.write(JSON.stringify({ speeds: h.commands().map((c) => c.drive.speed), endedBy: summary.endedBy }) + '\n');
