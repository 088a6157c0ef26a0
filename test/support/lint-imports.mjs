// Runs only the import-restriction rule of the project's ESLint config (no type information needed) over
// the files named, or over one text given as a file path and its content, and prints the messages as
// JSON. Called by test/unit/boundaries.test.ts in a process of its own (ESLint loads its config as an ES
// module, which jest's module sandbox does not allow).
import { ESLint } from 'eslint';

const RULE = '@typescript-eslint/no-restricted-imports';
const [mode, ...args] = process.argv.slice(2);
const eslint = new ESLint({
  ruleFilter: ({ ruleId }) => ruleId === RULE,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});
const results =
  mode === 'text' ? await eslint.lintText(args[1], { filePath: args[0] }) : await eslint.lintFiles(args);
const messages = results.flatMap((r) =>
  r.messages.map((m) => ({ file: r.filePath, line: m.line, ruleId: m.ruleId, message: m.message })),
);
console.log(JSON.stringify(messages));
