import type { Command } from 'commander';
import { join } from 'node:path';
import { parseWith, readConfigFile } from '../core/config.js';
import { writeFileSafely } from '../core/files.js';
import { writeOutputDirectory } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import {
  DrivingSimEnv,
  purePursuitForEnv,
  rgbToPng,
  simConfigSchema,
  topDownMapPng,
  type MapPoint,
} from '../../sim/index.js';
import { addCommand, FORCE_HELP, OUT_RULE, parseFloatArg, parseIntArg, type CommonOptions } from './command.js';
import { roundTo } from '../core/math.js';

interface RenderOptions extends CommonOptions {
  seed: number;
  frames: number;
  out: string;
  force?: boolean;
  width?: number;
  height?: number;
  stride: number;
  weave: number;
  config?: string;
}

/**
 * `daydrive sim render`: drives a road with pure pursuit (weaving gently inside the lane so the
 * frames show varied poses) and writes camera frames plus a top-down map with the driven path.
 */
export function registerSim(program: Command): void {
  const sim = program.command('sim').description('the procedural-road simulator');
  addCommand<RenderOptions>(
    sim,
    'render',
    'write camera frames (PNG) and a top-down map of the road with the driven path',
    (cmd) =>
      cmd
        .option('--seed <n>', 'road seed', parseIntArg(0, 0x7fffffff), 0)
        .option('--frames <n>', 'number of camera frames', parseIntArg(1, 100_000), 8)
        .requiredOption(
          '--out <dir>',
          `output directory: created, or replaced when it holds this command's earlier output (${OUT_RULE})`,
        )
        .option('--force', FORCE_HELP)
        .option('--width <px>', 'frame width (default: the config camera width)', parseIntArg(8, 4096))
        .option('--height <px>', 'frame height (default: the config camera height)', parseIntArg(8, 4096))
        .option('--stride <steps>', 'policy steps (0.1 s each) between frames', parseIntArg(1, 10_000), 10)
        .option(
          '--weave <m>',
          'amplitude of the driver weaving about the lane centre, metres',
          parseFloatArg(0, 5),
          0.3,
        )
        .option('--config <file>', 'simulator config (YAML/JSON, any subset of the settings)'),
    async (_args, opts) => {
      const raw = opts.config ? await readConfigFile(opts.config) : {};
      const config = parseWith(simConfigSchema, raw, opts.config ? `config ${opts.config}` : 'simulator config');
      const env = new DrivingSimEnv({ ...config, camera: { ...config.camera, render: false } });
      const width = opts.width ?? config.camera.widthPx;
      const height = opts.height ?? config.camera.heightPx;
      // requiredOption: commander has already rejected a command line without --out.
      const out = opts.out;
      env.resetSync({ seed: opts.seed });
      const files: string[] = [];
      const interventions: MapPoint[] = [];
      const reasons: string[] = [];
      let routeComplete = false;
      await writeOutputDirectory(out, { command: 'sim render', force: opts.force === true }, async (tmp) => {
        for (let frame = 0; frame < opts.frames; frame++) {
          const name = `frame_${String(frame).padStart(4, '0')}.png`;
          await writeFileSafely(join(tmp, name), await rgbToPng(env.renderAt(width, height)));
          files.push(name);
          if (frame === opts.frames - 1) break;
          for (let k = 0; k < opts.stride && !routeComplete; k++) {
            const offsetM = opts.weave * Math.sin(env.distanceAlongRouteM / 9);
            const r = env.stepSync(purePursuitForEnv(env, { offsetM }));
            if (r.terminated) {
              interventions.push({ xM: env.pose.xM, yM: env.pose.yM });
              reasons.push(r.info.intervention ?? 'unknown');
              env.resetSync({ continueRoute: true });
            } else if (r.info.routeComplete) {
              routeComplete = true;
            } else if (r.truncated) {
              env.resetSync({ continueRoute: true });
            }
          }
          if (routeComplete) {
            log.info({ frames: files.length }, 'route complete: no more frames');
            break;
          }
        }
        await writeFileSafely(
          join(tmp, 'map.png'),
          await topDownMapPng(env.road, { path: env.drivenPath, interventions }),
        );
      });
      return {
        out,
        seed: opts.seed,
        frames: files.length,
        width,
        height,
        files,
        map: 'map.png',
        routeLengthM: env.routeLengthM,
        distanceAlongRouteM: roundTo(env.distanceAlongRouteM, 2),
        laneCount: env.road.laneCount,
        interventions: reasons,
      };
    },
    (r) => `wrote ${String(r.frames)} frames and map.png to ${String(r.out)}`,
  );
}
