import { oneLine } from '../core/errors.js';
import { parseTrainConfig } from '../jobs/train-config.js';
import { tellParent } from './children.js';
import type { LinkEndpoints } from './endpoint.js';
import { clientSecurity, readCurveKeys } from './security.js';
import { runSimActor, type SimActorOptions } from './sim-actor.js';

/** A simulator actor process (started by `daydrive train --actors N`); its options are sim-actor.ts's, the config raw. */
export type ActorProcessOptions = Omit<SimActorOptions, 'config' | 'security'> & {
  readonly config: unknown;
  readonly curveKeys: string | null;
  readonly endpoints: LinkEndpoints;
};

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as ActorProcessOptions;
  const config = parseTrainConfig(opts.config, 'actor config');
  const security = clientSecurity(opts.endpoints, opts.curveKeys ? await readCurveKeys(opts.curveKeys) : null);
  const result = await runSimActor({ ...opts, config, security });
  tellParent({ kind: 'done', actorId: opts.actorId, ...result });
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.stderr.write(`daydrive actor: ${oneLine(err)}\n`);
  process.exit(2);
});
