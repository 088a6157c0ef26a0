/**
 * Environment variables read through a TypeBox schema, the one way TicketDrop reads its configuration:
 * values are trimmed, an empty one counts as unset, defaults and type conversion come from the schema,
 * and a bad value is refused with its variable's name and what it must be.
 */
import { Type, type StaticDecode, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What a variable must be, completing "<NAME> must …" in the error message. */
const MUST = 'must';
const must = <T extends TSchema>(schema: T, text: string): T => Object.assign(schema, { [MUST]: text });

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];
/** Each word as written, capitalized or in capitals. */
const spellings = (words: string[]) =>
  words
    .flatMap((w) => [w, w[0]!.toUpperCase() + w.slice(1), w.toUpperCase()])
    .filter((w, i, all) => all.indexOf(w) === i);

/** Schemas of the kinds of variable TicketDrop reads. */
export const EnvVar = {
  string: (fallback?: string) => Type.String({ minLength: 1, default: fallback }),
  integer: (fallback: number, minimum: number, maximum: number) =>
    must(
      Type.Integer({ default: fallback, minimum, maximum }),
      `be an integer from ${minimum} to ${maximum}`,
    ),
  port: (fallback: number) =>
    must(Type.Integer({ default: fallback, minimum: 0, maximum: 65535 }), 'be a port number (0-65535)'),
  rate: () => must(Type.Number({ default: 0, minimum: 0, maximum: 1 }), 'be a rate from 0 to 1'),
  secret: () => must(Type.String({ minLength: 16 }), 'be at least 16 characters'),
  secretOf: (minLength: number, text: string) => must(Type.String({ minLength }), text),
  flag: () =>
    must(
      Type.Transform(
        Type.String({ pattern: `^(${spellings([...TRUE, ...FALSE]).join('|')})$`, default: 'false' }),
      )
        .Decode((value) => TRUE.includes(value.toLowerCase()))
        .Encode((value) => String(value)),
      'be true or false',
    ),
  httpUrl: (fallback?: string) =>
    must(
      Type.Transform(Type.String({ pattern: '^https?://[^\\s/]+', default: fallback }))
        .Decode((value) => value.replace(/\/+$/, ''))
        .Encode((value) => value),
      'be an http(s) URL',
    ),
  /** "50-200" or "50": a range of milliseconds. */
  msRange: (fallback: string) =>
    must(
      Type.Transform(Type.String({ pattern: '^\\d+(\\.\\d+)?(-\\d+(\\.\\d+)?)?$', default: fallback }))
        .Decode((value): [number, number] => {
          const [min, max = min] = value.split('-').map(Number) as [number, number?];
          if (max < min) throw new Error('the range ends before it starts');
          return [min, max];
        })
        .Encode(([min, max]) => `${min}-${max}`),
      'look like "50-200" (milliseconds)',
    ),
  /** A comma-separated subset of `values`, in the order of `values`; unset means all of them (or none: `null`). */
  subset: <V extends string>(values: readonly V[], what: string, fallback: 'all' | null = 'all') => {
    const item = `(${values.map((v) => v.replace(/[-]/g, '\\-')).join('|')})`;
    return must(
      Type.Transform(
        Type.String({
          pattern: `^\\s*${item}(\\s*,\\s*${item})*\\s*$`,
          ...(fallback === 'all' && { default: values.join(',') }),
        }),
      )
        .Decode((value) => {
          const wanted = value.split(',').map((v) => v.trim());
          return values.filter((v) => wanted.includes(v));
        })
        .Encode((list) => list.join(',')),
      `list ${what} from ${values.join(', ')}`,
    );
  },
};

/**
 * Reads the variables `schema` names from `env`: every one checked, the first bad one refused as a
 * ConfigError ("NAME must …, got "value"", or "NAME is required").
 */
export function readEnv<P extends TProperties>(schema: TObject<P>, env: Env): StaticDecode<TObject<P>> {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key]?.trim();
    if (value) raw[key] = value;
  }
  const refuse = (path: string): ConfigError => {
    const key = path.split('/')[1] ?? path;
    if (!(key in raw)) return new ConfigError(`${key} is required`);
    const property = schema.properties[key] as TSchema & { [MUST]?: string };
    return new ConfigError(`${key} ${MUST} ${property[MUST] ?? 'be valid'}, got "${raw[key]}"`);
  };
  const values = Value.Convert(schema, Value.Default(schema, { ...raw }));
  const error = Value.Errors(schema, values).First();
  if (error) throw refuse(error.path);
  try {
    return Value.Decode(schema, values);
  } catch (err) {
    // A Decode that refused a value (a range ending before it starts).
    throw refuse((err as { path?: string }).path ?? '');
  }
}
