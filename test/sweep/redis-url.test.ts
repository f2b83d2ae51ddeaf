import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import { connectionOptions, parseRedisUrl } from '../../src/sweep/redis-url.js';

test('queue URLs: loopback without a password, anything else only with one; rediss:// is TLS; the password never shown', () => {
  for (const url of ['redis://127.0.0.1:6379', 'redis://localhost', 'redis://[::1]:7000', 'redis://127.0.0.2:1'])
    assert.doesNotThrow(() => parseRedisUrl(url), url);
  for (const url of [
    'redis://10.0.0.5:6379',
    'redis://queue.example.org',
    'rediss://queue.example.org:6380',
    'redis://user@10.0.0.5',
  ]) {
    assert.throws(
      () => parseRedisUrl(url),
      (err: unknown) => err instanceof UserError && /needs a password/.test(err.message),
      url,
    );
  }
  const remote = parseRedisUrl('rediss://sweeper:s3cr%40t@queue.example.org:6380/2');
  assert.deepEqual(
    { ...remote },
    {
      host: 'queue.example.org',
      port: 6380,
      db: 2,
      username: 'sweeper',
      password: 's3cr@t',
      tls: true,
      display: 'rediss://queue.example.org:6380/2',
    },
  );
  assert.deepEqual(connectionOptions(remote).tls, { servername: 'queue.example.org' });
  assert.equal(parseRedisUrl('redis://127.0.0.1').port, 6379);
  assert.throws(() => parseRedisUrl('http://127.0.0.1:6379'), /not supported/);
  assert.throws(() => parseRedisUrl('not a url'), /is not a URL/);
});
