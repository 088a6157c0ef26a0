/**
 * Mermaid text that parses whatever the error messages say: every label goes through `label()`, which
 * turns the characters Mermaid reads as syntax into its entity codes and keeps labels on one line.
 */
const SYNTAX = /[#;"<>{}[\]|`%&\\]/g;

/** A label safe inside any Mermaid diagram (sequence message, note, node, pie slice, participant alias). */
export function label(text: string, max = 120): string {
  const oneLine = text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const short = oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
  return short.replace(SYNTAX, (ch) => `#${ch.charCodeAt(0)};`) || ' ';
}

/** Participant and node ids: letters, digits and underscores only, stable for the same input. */
export function nodeId(prefix: string, index: number): string {
  return `${prefix}${index}`;
}

/** Joins diagram lines, indenting every line after the header. */
export function diagram(header: string, lines: string[]): string {
  return [header, ...lines.map((line) => `  ${line}`)].join('\n') + '\n';
}
