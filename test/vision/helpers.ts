import { runCli, type CliResult } from '../helpers/cli.js';

/** `daydrive vae collect --bag BAG --topic TOPIC --out OUT --json`, as a user runs it (logs at error). */
export function collectFromBag(bag: string, topic: string, out: string): Promise<CliResult> {
  return runCli(['vae', 'collect', '--bag', bag, '--topic', topic, '--out', out, '--json'], {
    env: { DAYDRIVE_LOG_LEVEL: 'error' },
  });
}
