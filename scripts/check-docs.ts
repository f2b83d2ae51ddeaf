/**
 * Keeps the docs true to the tree (run by .ci/run and `npm run check-docs`):
 * 1. every repository path that README.md and docs/ name (a relative Markdown link, or an inline
 *    code span starting with a top-level folder of the repository) exists;
 * 2. every ```ts example in them compiles with the project's compiler options. An example's free
 *    variables are declared, with their types, in an HTML comment just above it, invisible on the
 *    page: <!-- doc-check: declare const env: import('../src/core/env.js').DrivingEnvironment; -->
 * 3. every table of benchmark figures in README.md is what its bench/results/<name>.json gives
 *    (scripts/bench-tables.ts).
 * Prints one line per problem and exits 1 if there is any.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { benchTableProblems } from './bench-tables.js';

const root = resolve(import.meta.dirname, '..');
/** Where the examples are written: a folder at the root, so their `../src/...` imports resolve as from docs/. */
const exampleDir = join(root, '.doc-check');
const topLevelFolders = ['src', 'sim', 'test', 'bench', 'docs', 'launch', 'models', 'sweeps', 'scripts', '.ci'];

function markdownFiles(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? docs(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : [],
    );
  return ['README.md', ...docs('docs')];
}

/** The paths a Markdown file names, each with the line it is on, resolved against the repository. */
export function namedPaths(markdown: string, file: string): { line: number; path: string }[] {
  const found: { line: number; path: string }[] = [];
  const inRepo = (path: string): boolean => !relative(root, path).startsWith('..');
  let inFence = false;
  markdown.split('\n').forEach((text, index) => {
    if (text.trimStart().startsWith('```')) inFence = !inFence;
    if (inFence) return;
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = (match[1] ?? '').split('#')[0] ?? '';
      if (target === '' || /^[a-z]+:/i.test(target)) continue;
      const path = resolve(root, dirname(file), target);
      if (inRepo(path)) found.push({ line: index + 1, path });
    }
    for (const match of text.matchAll(/`([^`\s]+)`/g)) {
      const span = (match[1] ?? '').replace(/[.,:;]+$/, '').replace(/:\d+$/, '');
      const first = span.split('/')[0] ?? '';
      if (!span.includes('/') || !topLevelFolders.includes(first) || /[*<>{}$|]/.test(span)) continue;
      found.push({ line: index + 1, path: resolve(root, span) });
    }
  });
  return found;
}

/** The ```ts examples of a Markdown file, each with the declarations of its doc-check comment. */
export function tsExamples(markdown: string): { line: number; code: string }[] {
  const examples: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```ts\s*$/.test(lines[i] ?? '')) continue;
    const declarations: string[] = [];
    for (let j = i - 1; j >= 0 && (lines[j] ?? '').trim() !== ''; j--) {
      const comment = /^\s*<!-- doc-check: (.*) -->\s*$/.exec(lines[j] ?? '');
      if (comment?.[1]) declarations.unshift(comment[1]);
    }
    const end = lines.findIndex((text, k) => k > i && /^\s*```\s*$/.test(text));
    const body = lines.slice(i + 1, end < 0 ? lines.length : end);
    // Imports first, then the declarations (which may name imported types), then the example.
    const imports = body.filter((text) => text.startsWith('import '));
    const rest = body.filter((text) => !text.startsWith('import '));
    examples.push({ line: i + 1, code: [...imports, ...declarations, ...rest, 'export {};', ''].join('\n') });
    i = end < 0 ? lines.length : end;
  }
  return examples;
}

function main(): void {
  const problems: string[] = [];
  rmSync(exampleDir, { recursive: true, force: true });
  mkdirSync(exampleDir);
  const exampleFiles = new Map<string, string>();
  for (const file of markdownFiles()) {
    const markdown = readFileSync(join(root, file), 'utf8');
    for (const { line, path } of namedPaths(markdown, file)) {
      if (!existsSync(path)) problems.push(`${file}:${line}: names ${relative(root, path)}, which does not exist`);
    }
    tsExamples(markdown).forEach(({ line, code }) => {
      const name = `${file.replace(/[/.]/g, '_')}_${line}.ts`;
      writeFileSync(join(exampleDir, name), code);
      exampleFiles.set(name, `${file}:${line}`);
    });
  }
  if (exampleFiles.size > 0) {
    const tsconfig = {
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, noUnusedLocals: false, rootDir: '..' },
      include: ['*.ts'],
    };
    writeFileSync(join(exampleDir, 'tsconfig.json'), JSON.stringify(tsconfig));
    try {
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', exampleDir], {
        encoding: 'utf8',
      });
    } catch (error) {
      const output = String((error as { stdout?: string }).stdout ?? error);
      for (const text of output.split('\n').filter((l) => /error TS/.test(l))) {
        const where = /([\w.]+\.ts)\((\d+),/.exec(text);
        const example = where ? exampleFiles.get(where[1] ?? '') : undefined;
        problems.push(
          example ? `${example}: the ts example does not compile: ${text.replace(/^.*?error /, 'error ')}` : text,
        );
      }
    }
  }
  rmSync(exampleDir, { recursive: true, force: true });
  problems.push(...benchTableProblems());
  for (const problem of problems) console.error(problem);
  console.log(
    `check-docs: ${markdownFiles().length} Markdown files, ${exampleFiles.size} ts examples, ${problems.length} problems`,
  );
  if (problems.length > 0) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
