/**
 * `npm run docs:inspect`: writes the JSON schemas of the debugging views into docs/INSPECT.md, between
 * the markers, so the documented schema is the one the code validates against (a unit test checks it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OUTPUT_SCHEMAS } from './schema';

export const DOC = path.resolve(__dirname, '../../docs/INSPECT.md');
const BEGIN = '<!-- schemas:begin -->';
const END = '<!-- schemas:end -->';

export function schemaSection(): string {
  const parts = Object.entries(OUTPUT_SCHEMAS).map(
    ([command, schema]) =>
      `### \`${command} -o json\`\n\n\`\`\`json\n${JSON.stringify(schema, null, 2)}\n\`\`\`\n`,
  );
  return `${BEGIN}\n${parts.join('\n')}${END}`;
}

export function withSchemas(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`${DOC} lacks the ${BEGIN} … ${END} markers`);
  return doc.slice(0, start) + schemaSection() + doc.slice(end + END.length);
}

if (require.main === module) {
  writeFileSync(DOC, withSchemas(readFileSync(DOC, 'utf8')));
  console.log(`wrote the schemas into ${DOC}`);
}
