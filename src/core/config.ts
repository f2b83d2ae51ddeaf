import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { UserError } from './errors.js';

/** Formats zod issues as "field a.b: message; field c: message" so users see which field is wrong. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
      return `field ${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Validates `raw` against `schema`; errors name the field and the source (file or flag). */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new UserError(`invalid ${source}: ${describeIssues(result.error.issues)}`);
  }
  return result.data;
}

/** Reads a YAML or JSON config file (JSON is YAML) into a plain object, without validating. */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new UserError(`config ${path} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}
