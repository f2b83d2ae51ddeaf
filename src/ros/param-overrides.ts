import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { isSystemError, oneLine, systemErrorCause, UserError } from '../core/errors.js';

/**
 * The parameter overrides that apply to the node, from the ROS arguments as rcl reads them
 * (`--params-file FILE`, `-p [node:]name:=value`, in their order: a later one wins), matched
 * against the node's fully qualified name as rclcpp matches them: a YAML key without a leading
 * '/' is made absolute, `/**` matches any namespace and name, `/*` one segment, so `/**`,
 * `daydrive`, `/daydrive` (what `ros2 param dump` writes) and `/car/daydrive` (launch's
 * PushRosNamespace) all reach a node /car/daydrive as they would reach an rclcpp node.
 *
 * rclnodejs 2.2 applies only the `/**` and bare-node-name entries (node.js,
 * _getNativeParameterOverrides) and drops the others silently, and it refuses an integer for a
 * double parameter; so the node resolves the overrides here and declares its parameters with
 * these values (ignoreOverride), rcl having already checked the files parse.
 */
export async function resolveParameterOverrides(
  rosArgs: readonly string[],
  nodeFqn: string,
): Promise<Map<string, unknown>> {
  const overrides = new Map<string, unknown>();
  for (let i = 0; i < rosArgs.length; i++) {
    const arg = rosArgs[i]!;
    const next = rosArgs[i + 1];
    if ((arg === '--params-file' || arg === '-p' || arg === '--param') && next !== undefined) {
      i += 1;
      if (arg === '--params-file') {
        for (const [name, value] of await paramsFileOverrides(next, nodeFqn)) overrides.set(name, value);
      } else {
        const rule = parseParamRule(next);
        if (nodeMatches(rule.node, nodeFqn)) overrides.set(rule.name, rule.value);
      }
    }
  }
  return overrides;
}

/** rcl's wildcard node names as a regular expression (rcl wildcard_to_regex: `/**` any segments, `/*` one). */
export function nodeNamePattern(yamlKey: string): RegExp {
  const absolute = yamlKey.startsWith('/') ? yamlKey : `/${yamlKey}`;
  const escaped = absolute
    .split(/(\/\*\*|\/\*)/)
    .map((part) =>
      part === '/**' ? '(/[^/]+)*' : part === '/*' ? '/[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${escaped}$`);
}

export function nodeMatches(yamlKey: string, nodeFqn: string): boolean {
  return nodeNamePattern(yamlKey).test(nodeFqn);
}

/** The overrides one ROS parameters file gives the node (its matching keys, in file order). */
async function paramsFileOverrides(path: string, nodeFqn: string): Promise<Map<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read parameters ${path}: ${isSystemError(err) ? systemErrorCause(err) : oneLine(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UserError(`parameters ${path} is not valid YAML: ${oneLine(err)}`);
  }
  const out = new Map<string, unknown>();
  if (doc === null || doc === undefined) return out;
  const isMapping = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  // rcl refuses a file without node sections (its YAML parser wants "<node>: ros__parameters:").
  if (!isMapping(doc) || !Object.values(doc as object).some(isMapping)) {
    throw new UserError(
      `parameters ${path} is not a ROS 2 parameters file: no "ros__parameters" section (expected "/**: ros__parameters: ..." or "daydrive: ros__parameters: ...")`,
    );
  }
  for (const [key, section] of Object.entries(doc as Record<string, unknown>)) {
    if (!nodeMatches(key, nodeFqn)) continue;
    const params = (section as { ros__parameters?: unknown } | null)?.ros__parameters;
    if (params === undefined || params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new UserError(`parameters ${path}: '${key}' has no ros__parameters mapping`);
    }
    flatten(params as Record<string, unknown>, '', out);
  }
  return out;
}

/**
 * The node's fully qualified name after the ROS arguments' remaps (`-r __node:=car`,
 * `-r __ns:=/car`), as rcl computes it, for a node created as `defaultName` in the root namespace.
 */
export function nodeFqnFromRosArgs(rosArgs: readonly string[], defaultName: string): string {
  let name = defaultName;
  let namespace = '/';
  for (let i = 0; i + 1 < rosArgs.length; i++) {
    if (rosArgs[i] !== '-r' && rosArgs[i] !== '--remap') continue;
    const rule = rosArgs[++i]!;
    if (rule.startsWith('__node:=') || rule.startsWith('__name:=')) name = rule.slice(rule.indexOf(':=') + 2);
    else if (rule.startsWith('__ns:=')) namespace = rule.slice('__ns:='.length);
  }
  const ns = namespace.startsWith('/') ? namespace : `/${namespace}`;
  return ns === '/' ? `/${name}` : `${ns.replace(/\/+$/, '')}/${name}`;
}

/** Nested YAML maps are dotted parameter names (rcl's rule). */
function flatten(params: Record<string, unknown>, prefix: string, out: Map<string, unknown>): void {
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      flatten(value as Record<string, unknown>, `${prefix}${name}.`, out);
    else out.set(`${prefix}${name}`, value);
  }
}

/** `-p name:=value` or `-p node:name:=value`; the value is YAML, as rcl reads it. */
function parseParamRule(rule: string): { node: string; name: string; value: unknown } {
  const at = rule.indexOf(':=');
  if (at < 0) throw new UserError(`bad ROS parameter rule '${rule}': expected name:=value`);
  const lhs = rule.slice(0, at);
  const colon = lhs.lastIndexOf(':');
  let value: unknown;
  try {
    value = parseYaml(rule.slice(at + 2));
  } catch (err) {
    throw new UserError(`bad ROS parameter rule '${rule}': ${oneLine(err)}`);
  }
  return colon < 0
    ? { node: '/**', name: lhs, value }
    : { node: lhs.slice(0, colon), name: lhs.slice(colon + 1), value };
}
