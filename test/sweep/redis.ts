import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './helpers.js';

const exec = promisify(execFile);

/** A private Redis for a test: 127.0.0.1, a free port, append-only file in `dir`, stopped by the test. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(dir: string, port?: number): Promise<TestRedis> {
    const redis = new TestRedis(port ?? (await freePort()), dir);
    await redis.up();
    return redis;
  }

  async up(): Promise<void> {
    await exec('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--dir',
      this.dir,
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'yes',
      '--pidfile',
      join(this.dir, 'redis.pid'),
      '--logfile',
      join(this.dir, 'redis.log'),
    ]);
    await waitFor(
      'redis to answer',
      async () =>
        (await exec('redis-cli', ['-p', String(this.port), 'ping']).catch(() => ({ stdout: '' }))).stdout.includes(
          'PONG',
        ),
      10_000,
    );
  }

  /** Stops it as a crash would (no snapshot; the append-only file keeps what was written). */
  async down(): Promise<void> {
    await exec('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave']).catch(() => {});
    await waitFor(
      'redis to stop',
      async () =>
        (await exec('redis-cli', ['-p', String(this.port), 'ping']).catch(() => ({ stdout: 'down' }))).stdout.includes(
          'down',
        ),
      10_000,
    );
  }
}
