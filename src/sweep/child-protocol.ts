import type { SeedResult } from './objective.js';
import type { SeedTask } from './trial-seed.js';

/** Messages between a trial process and its parent (IPC). */
export type ChildRequest = { readonly type: 'run'; readonly task: SeedTask };
export type ChildReply =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly result: SeedResult }
  | { readonly type: 'failed'; readonly message: string; readonly badConfiguration: boolean };
