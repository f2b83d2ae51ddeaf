// ESLint (typescript-eslint): the typed rules the compiler cannot check, and typescript-eslint's
// recommended set. `npm run lint`; .ci/run runs it.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'models/', 'runs/'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // The compiler's noUnusedLocals / noUnusedParameters check this, with its own `_` rule.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
);
