import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { readDriveAgentConfig } from '../ros/agent-config.js';
import { nodeFqnFromRosArgs, resolveParameterOverrides } from '../ros/param-overrides.js';
import {
  DRIVE_PARAMETERS,
  DRIVE_PARAM_NAMES,
  overrideValue,
  parseDriveParams,
  type DriveParamName,
  type DriveParams,
} from '../ros/params.js';
import { NODE_NAME, runDrive } from '../ros/run.js';
import { addCommand, takesForeignArguments, type CommonOptions } from './command.js';

/**
 * `daydrive drive [--params FILE] [--check]`: the ROS 2 drive node (src/ros/). Needs ROS 2
 * sourced and rclnodejs installed; without them it exits with one line saying what to install.
 * ROS arguments after `--ros-args` (what `ros2 launch` and `ros2 run` pass: remaps, -p,
 * --params-file) go to rcl unchanged; any other unknown flag is refused. The parameters (the
 * files and `-p` values) are checked before rclnodejs is loaded, and `--check` stops there: a
 * parameters file can be validated on a machine without ROS 2.
 */

interface DriveOptions extends CommonOptions {
  params?: string;
  check?: boolean;
}

/** The token that starts ROS's own arguments, and the one that ends them. */
const ROS_ARGS = '--ros-args';

/** The arguments after --ros-args (up to a lone `--ros-args` terminator `--`), as ROS passes them. */
export function rosArgsOf(argv: readonly string[]): string[] {
  const start = argv.indexOf(ROS_ARGS);
  if (start < 0) return [];
  const rest = argv.slice(start + 1);
  const end = rest.indexOf('--');
  return end < 0 ? rest : rest.slice(0, end);
}

/** After the node has stopped, exit even if a native ROS handle is still open. */
const EXIT_GRACE_MS = 2000;

/** The closest parameter name (a typo's likely meaning), or null when none is close. */
function closestName(name: string): DriveParamName | null {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length]!;
  };
  let best: DriveParamName | null = null;
  let bestDistance = 4;
  for (const candidate of DRIVE_PARAM_NAMES) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

export interface DriveCheck {
  readonly params: DriveParams;
  /** The files the parameters name that were read and checked. */
  readonly checkedFiles: string[];
}

/**
 * Checks what the drive node would run with, without ROS: the parameters files (--params-file
 * in the ROS arguments, then --params), the `-p` overrides, every value's name, ROS type and
 * range (the node's own schema), and the files they name (config_file is validated;
 * vae_model_dir and checkpoint_dir must be directories if set). Any problem is one line.
 */
export async function checkDriveSetup(paramsFile: string | undefined, rosArgs: readonly string[]): Promise<DriveCheck> {
  // The files and -p rules in the order the node applies them (src/ros/run.ts), matched against its remapped name.
  const args = [...rosArgs, ...(paramsFile ? ['--params-file', paramsFile] : [])];
  const overrides = await resolveParameterOverrides(args, nodeFqnFromRosArgs(rosArgs, NODE_NAME));
  const raw: Record<string, unknown> = {};
  for (const [name, value] of overrides) {
    if (name === 'use_sim_time') continue;
    if (!(DRIVE_PARAM_NAMES as readonly string[]).includes(name)) {
      const near = closestName(name);
      throw new UserError(`unknown parameter ${name}${near ? ` (did you mean ${near}?)` : ''}`);
    }
    raw[name] = overrideValue(name, DRIVE_PARAMETERS[name as DriveParamName].kind, value);
  }
  const sources = args.filter((_, i) => args[i - 1] === '--params-file');
  const params = parseDriveParams(
    raw,
    sources.length > 0 ? `drive parameters (${sources.join(', ')})` : 'drive parameters',
  );
  const checkedFiles: string[] = [];
  if (params.config_file !== '') {
    await readDriveAgentConfig(params.config_file);
    checkedFiles.push(params.config_file);
  }
  for (const name of ['vae_model_dir', 'checkpoint_dir'] as const) {
    const dir = params[name];
    if (dir === '') continue;
    const isDirectory = await stat(dir).then(
      (s) => s.isDirectory(),
      () => null,
    );
    // checkpoint_dir may not exist yet: the node creates it at its first checkpoint.
    if (isDirectory === false || (isDirectory === null && name === 'vae_model_dir'))
      throw new UserError(`parameter ${name}: ${dir} is not a directory`);
    checkedFiles.push(dir);
  }
  return { params, checkedFiles };
}

export function registerDrive(program: Command): void {
  const cmd = addCommand<DriveOptions>(
    program,
    'drive',
    'run the ROS 2 drive node on the vehicle: camera in, Ackermann commands out, learning between episodes (needs ROS 2 and rclnodejs; see docs/ros.md)',
    (c) =>
      c
        .option('--params <file>', 'ROS 2 parameters YAML (launch/config/daydrive.params.yaml documents every setting)')
        .option('--check', 'check the parameters (files, -p values) and the files they name, then exit; needs no ROS 2')
        .addHelpText(
          'after',
          '\nROS arguments go after --ros-args, as ros2 launch passes them:\n  daydrive drive --ros-args -p camera_topic:=/front/image_raw -r __node:=car --params-file car.yaml\nCheck a parameters file on any machine:\n  daydrive drive --check --params car.yaml',
        ),
    async (_args, opts) => {
      let paramsFile: string | undefined;
      if (opts.params !== undefined) {
        paramsFile = resolve(opts.params);
        if (!(await exists(paramsFile))) throw new UserError(`cannot read parameters ${opts.params}: no such file`);
      }
      const rosArgs = rosArgsOf(process.argv);
      // Before rclnodejs: a bad parameter is named even where ROS 2 is missing.
      const checked = await checkDriveSetup(paramsFile, rosArgs);
      if (opts.check) return { checked: true, params: checked.params, files: checked.checkedFiles };
      const summary = await runDrive({ rosArgs, ...(paramsFile ? { paramsFile } : {}) });
      // 0 after 'done' and after a handled SIGINT/SIGTERM alike: the car was stopped and the node
      // shut down cleanly (launch logs any other status as "process has died" on every normal
      // stop). A second signal exits at once with 128 + its number (src/ros/signals.ts).
      const code = 0;
      process.exitCode = code;
      // unref: a clean exit need not wait for it; it only ends a process a native handle keeps open.
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
      return { episodes: summary.episodes, endedBy: summary.endedBy };
    },
    (r) =>
      r.checked === true
        ? `parameters OK${(r.files as string[]).length > 0 ? ` (and ${(r.files as string[]).join(', ')})` : ''}: the drive node would start with them`
        : `drive node stopped (${String(r.endedBy)}) after ${String(r.episodes)} episodes`,
  );
  // The ROS arguments are rcl's, not ours: commander never sees them (any other unknown flag is refused).
  takesForeignArguments(cmd, ROS_ARGS);
}
