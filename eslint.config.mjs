// Lint for the TypeScript tree: typescript-eslint's recommended rules; formatting is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'datapath/native/build/**', 'scripts/pulumi-build/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring out a field, a callback's position).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' },
      ],
      // The dynamic providers load their implementation at run time by design (see provider/load.ts).
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Tests read arbitrary JSON answers and drive fakes through loosely typed hooks.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
