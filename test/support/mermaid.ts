/** The real Mermaid parser, run in a child process (Mermaid is ESM and wants a DOM: see mermaid-check.mjs). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Parses each diagram; returns the ones that failed, with the parser's message. */
export function invalidMermaid(diagrams: string[]): { diagram: string; error: string }[] {
  const results = JSON.parse(
    execFileSync('node', [path.join(ROOT, 'test/support/mermaid-check.mjs')], {
      cwd: ROOT,
      input: JSON.stringify(diagrams),
    }).toString(),
  ) as { ok: boolean; error?: string }[];
  if (results.length !== diagrams.length) throw new Error('the Mermaid checker skipped diagrams');
  return results.flatMap((r, i) => (r.ok ? [] : [{ diagram: diagrams[i]!, error: r.error ?? '' }]));
}
