import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { runDrive } from '../ros/run.js';
import { addCommand, type CommonOptions } from './command.js';

/**
 * `daydrive drive [--params FILE]`: the ROS 2 drive node (src/ros/). Needs ROS 2 sourced and
 * rclnodejs installed; without them it exits with one line saying what to install. ROS
 * arguments after `--ros-args` (what `ros2 launch` and `ros2 run` pass: remaps, -p, --params-file)
 * go to rcl unchanged.
 */

interface DriveOptions extends CommonOptions {
  params?: string;
}

/** The arguments after --ros-args (up to a lone `--ros-args` terminator `--`), as ROS passes them. */
export function rosArgsOf(argv: readonly string[]): string[] {
  const start = argv.indexOf('--ros-args');
  if (start < 0) return [];
  const rest = argv.slice(start + 1);
  const end = rest.indexOf('--');
  return end < 0 ? rest : rest.slice(0, end);
}

/** After the node has stopped, exit even if a native ROS handle is still open. */
const EXIT_GRACE_MS = 2000;

export function registerDrive(program: Command): void {
  addCommand<DriveOptions>(
    program,
    'drive',
    'run the ROS 2 drive node on the vehicle: camera in, Ackermann commands out, learning between episodes (needs ROS 2 and rclnodejs; see docs/ros.md)',
    (cmd) =>
      cmd
        .option('--params <file>', 'ROS 2 parameters YAML (launch/config/daydrive.params.yaml documents every setting)')
        .allowUnknownOption()
        .allowExcessArguments()
        .addHelpText('after', '\nROS arguments go after --ros-args, as ros2 launch passes them:\n  daydrive drive --ros-args -p camera_topic:=/front/image_raw -r __node:=car --params-file car.yaml'),
    async (_args, opts) => {
      let paramsFile: string | undefined;
      if (opts.params !== undefined) {
        paramsFile = resolve(opts.params);
        if (!(await exists(paramsFile))) throw new UserError(`cannot read parameters ${opts.params}: no such file`);
      }
      const summary = await runDrive({ rosArgs: rosArgsOf(process.argv), ...(paramsFile ? { paramsFile } : {}) });
      // 0 after 'done' and after a handled SIGINT/SIGTERM alike: the car was stopped and the node
      // shut down cleanly (launch logs any other status as "process has died" on every normal
      // stop). A second signal exits at once with 128 + its number (src/ros/signals.ts).
      const code = 0;
      process.exitCode = code;
      // unref: a clean exit need not wait for it; it only ends a process a native handle keeps open.
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
      return { episodes: summary.episodes, endedBy: summary.endedBy };
    },
    (r) => `drive node stopped (${String(r.endedBy)}) after ${String(r.episodes)} episodes`,
  );
}
