import { UserError } from '../core/errors.js';
import type { RclModule } from './rclnodejs-types.js';

/** What to do when rclnodejs is missing or cannot load (one line, for the CLI). */
export const RCLNODEJS_HINT =
  'install ROS 2 (Humble or newer), `source /opt/ros/<distro>/setup.bash`, then `npm i rclnodejs` in the daydrive directory (see docs/ros.md)';

/**
 * Loads rclnodejs lazily: it is an optional dependency that only builds against a sourced ROS 2,
 * so every other command works without it. A missing or broken install is one clear line.
 */
export async function loadRclnodejs(): Promise<RclModule> {
  // A variable specifier keeps TypeScript from requiring the package at compile time.
  const specifier: string = 'rclnodejs';
  let mod: { default?: unknown };
  try {
    mod = (await import(specifier)) as { default?: unknown };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new UserError(`rclnodejs is not installed: ${RCLNODEJS_HINT}`);
    const why = (err as Error).message.split('\n')[0] ?? String(err);
    const sourced = process.env.ROS_DISTRO
      ? `ROS_DISTRO=${process.env.ROS_DISTRO}`
      : 'ROS_DISTRO is not set: ROS 2 is not sourced';
    throw new UserError(`rclnodejs failed to load (${why}; ${sourced}): ${RCLNODEJS_HINT}`);
  }
  const rcl = (mod.default ?? mod) as Partial<RclModule>;
  if (typeof rcl.init !== 'function' || typeof rcl.Node !== 'function') {
    throw new UserError(`the installed rclnodejs does not look like rclnodejs 2.x (no init/Node): ${RCLNODEJS_HINT}`);
  }
  return rcl as RclModule;
}
