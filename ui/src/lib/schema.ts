// Turns a tool's input JSON Schema into form fields, and form values back into arguments.
// Only what a form can express faithfully becomes a field; anything else ($ref, oneOf, tuples,
// objects without properties...) makes the whole form fall back to the raw JSON editor, so a
// person can always send exactly what the schema allows.

export type Field =
  | { kind: 'string'; name: string; label: string; required: boolean; description?: string; default?: string; format?: string }
  | { kind: 'number' | 'integer'; name: string; label: string; required: boolean; description?: string; default?: number; minimum?: number; maximum?: number }
  | { kind: 'boolean'; name: string; label: string; required: boolean; description?: string; default?: boolean }
  | { kind: 'enum'; name: string; label: string; required: boolean; description?: string; default?: string; options: string[] }
  | { kind: 'array'; name: string; label: string; required: boolean; description?: string; default?: unknown[]; items: Field }
  | { kind: 'object'; name: string; label: string; required: boolean; description?: string; fields: Field[] };

type Schema = Record<string, unknown>;

/** Fields for the schema's properties, or `null` when only the JSON editor can do it justice. */
export function formFor(schema: Schema | undefined): Field[] | null {
  if (!schema) return [];
  const fields = objectFields(schema, '');
  return fields;
}

function objectFields(schema: Schema, prefix: string): Field[] | null {
  if (unsupported(schema)) return null;
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const out: Field[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const field = fieldFor(prop, name, prefix ? `${prefix}.${name}` : name, required.has(name));
    if (!field) return null;
    out.push(field);
  }
  return out;
}

function unsupported(schema: Schema): boolean {
  return ['$ref', 'oneOf', 'anyOf', 'allOf', 'not', 'if', 'patternProperties'].some((k) => k in schema);
}

function fieldFor(schema: Schema, name: string, label: string, required: boolean): Field | null {
  if (typeof schema !== 'object' || schema === null || unsupported(schema)) return null;
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  const common = { name, label: typeof schema.title === 'string' ? schema.title : label, required, description };
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  if (type.length !== 1) return null;
  if (Array.isArray(schema.enum)) {
    if (!schema.enum.every((v) => typeof v === 'string')) return null;
    return { kind: 'enum', ...common, options: schema.enum as string[], default: schema.default as string | undefined };
  }
  switch (type[0]) {
    case 'string':
      return { kind: 'string', ...common, default: schema.default as string | undefined, format: schema.format as string | undefined };
    case 'number':
    case 'integer':
      return {
        kind: type[0],
        ...common,
        default: schema.default as number | undefined,
        minimum: schema.minimum as number | undefined,
        maximum: schema.maximum as number | undefined,
      };
    case 'boolean':
      return { kind: 'boolean', ...common, default: schema.default as boolean | undefined };
    case 'array': {
      const items = schema.items as Schema | undefined;
      if (!items || Array.isArray(items)) return null;
      const item = fieldFor(items, 'item', `${label} item`, true);
      if (!item || item.kind === 'array' || item.kind === 'object') return null;
      return { kind: 'array', ...common, items: item, default: schema.default as unknown[] | undefined };
    }
    case 'object': {
      if (!schema.properties) return null;
      const fields = objectFields(schema, label);
      return fields ? { kind: 'object', ...common, fields } : null;
    }
    default:
      return null;
  }
}

/** The form's starting values: each field's default, else empty. */
export function initialValues(fields: Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.kind === 'object') out[f.name] = initialValues(f.fields);
    else if (f.kind === 'array') out[f.name] = (f.default ?? []).map(String);
    // No default: unset (the checkbox shows unticked), and left out unless ticked or required,
    // so the server's own default applies.
    else if (f.kind === 'boolean') out[f.name] = f.default;
    else out[f.name] = f.default !== undefined ? String(f.default) : '';
  }
  return out;
}

export interface Built {
  args: Record<string, unknown>;
  /** Field path → what is wrong with it. */
  errors: Record<string, string>;
}

/** Form values (strings from inputs) to tool arguments; empty optional fields are left out. */
export function buildArgs(fields: Field[], values: Record<string, unknown>, path = ''): Built {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const key = path ? `${path}.${f.name}` : f.name;
    const raw = values[f.name];
    if (f.kind === 'object') {
      const innerValues = (raw ?? {}) as Record<string, unknown>;
      // An optional object left empty is left out, and its required fields with it.
      if (!f.required && isEmpty(innerValues)) continue;
      const inner = buildArgs(f.fields, innerValues, key);
      Object.assign(errors, inner.errors);
      args[f.name] = inner.args;
      continue;
    }
    if (f.kind === 'boolean') {
      if (raw !== undefined || f.required) args[f.name] = Boolean(raw);
      continue;
    }
    if (f.kind === 'array') {
      const items = ((raw ?? []) as string[]).filter((v) => v !== '');
      if (items.length === 0) {
        if (f.required) errors[key] = 'add at least one item';
        continue;
      }
      const converted = items.map((v) => scalar(f.items, v));
      const bad = converted.find((c) => 'error' in c);
      if (bad && 'error' in bad) errors[key] = bad.error;
      else args[f.name] = converted.map((c) => ('value' in c ? c.value : undefined));
      continue;
    }
    const text = String(raw ?? '');
    if (text === '') {
      if (f.required) errors[key] = 'required';
      continue;
    }
    const c = scalar(f, text);
    if ('error' in c) errors[key] = c.error;
    else args[f.name] = c.value;
  }
  return { args, errors };
}

/** Nothing typed or ticked anywhere inside (defaults count as typed). */
function isEmpty(values: Record<string, unknown>): boolean {
  return Object.values(values).every((v) =>
    v === undefined || v === '' || (Array.isArray(v) ? v.every((x) => x === '') : typeof v === 'object' && v !== null && isEmpty(v as Record<string, unknown>)),
  );
}

function scalar(f: Field, text: string): { value: unknown } | { error: string } {
  switch (f.kind) {
    case 'number':
    case 'integer': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) return { error: `"${text}" is not a number` };
      if (f.kind === 'integer' && !Number.isInteger(n)) return { error: `"${text}" is not a whole number` };
      if (f.minimum !== undefined && n < f.minimum) return { error: `must be at least ${f.minimum}` };
      if (f.maximum !== undefined && n > f.maximum) return { error: `must be at most ${f.maximum}` };
      return { value: n };
    }
    case 'enum':
      return f.options.includes(text) ? { value: text } : { error: `choose one of ${f.options.join(', ')}` };
    case 'boolean':
      return { value: text === 'true' };
    default:
      return { value: text };
  }
}

/** A JSON editor's text as arguments, or what is wrong with it. */
export function parseRaw(text: string): { args: Record<string, unknown> } | { error: string } {
  if (text.trim() === '') return { args: {} };
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'arguments must be a JSON object, like {"message": "hi"}' };
    return { args: v as Record<string, unknown> };
  } catch (e) {
    return { error: `not valid JSON: ${(e as Error).message}` };
  }
}
