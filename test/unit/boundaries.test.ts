/**
 * The line between product and tools: nothing under src/ imports tools/, loadtest/ or test/ (the lint rule
 * in eslint.config.mjs, run here so that `npm test` and CI fail on a crossing).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface LintMessage {
  file: string;
  line: number;
  ruleId: string | null;
  message: string;
}

function lintImports(args: string[]): LintMessage[] {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'test/support/lint-imports.mjs'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out) as LintMessage[];
}

describe('product code imports no tool', () => {
  it('holds for every file under src/', () => {
    const crossings = lintImports(['files', 'src']).map(
      (m) => `${path.relative(ROOT, m.file)}:${m.line} ${m.message}`,
    );
    expect(crossings).toEqual([]);
  }, 60_000);

  it.each([
    ['src/api/routes/events/index.ts', "import { runCli } from '../../../../tools/inspect/cli';"],
    ['src/worker.ts', "import { faultInterceptors } from '../tools/faults/faults';"],
    ['src/sagas/purchase/workflow.ts', "import type { DropOptions } from '../../../loadtest/drop/options';"],
  ])(
    'is refused in %s: %s',
    (file, line) => {
      const messages = lintImports(['text', path.join(ROOT, file), `${line}\nexport {};\n`]);
      expect(messages.map((m) => m.ruleId)).toContain('@typescript-eslint/no-restricted-imports');
    },
    60_000,
  );
});
