import { parseTree, type ParseError } from 'jsonc-parser';

// Turns a tool's input JSON Schema into form fields, and form values back into arguments.
// Only what a form can express faithfully becomes a field; anything else ($ref, oneOf between
// shapes, tuples, objects without properties...) makes the whole form fall back to the raw JSON
// editor, so a person can always send exactly what the schema allows. The enum shapes of MCP
// elicitation (plain enum, legacy enumNames, oneOf/anyOf of titled consts, and arrays of those)
// become a select or a group of checkboxes.

export type Field =
  | { kind: 'string'; name: string; label: string; required: boolean; description?: string; default?: string; format?: string; minLength?: number; maxLength?: number; pattern?: string }
  | { kind: 'number' | 'integer'; name: string; label: string; required: boolean; description?: string; default?: number; minimum?: number; maximum?: number }
  | { kind: 'boolean'; name: string; label: string; required: boolean; description?: string; default?: boolean }
  | { kind: 'enum'; name: string; label: string; required: boolean; description?: string; default?: string; options: Option[] }
  | { kind: 'multi'; name: string; label: string; required: boolean; description?: string; default?: string[]; options: Option[]; minItems?: number; maxItems?: number }
  | { kind: 'array'; name: string; label: string; required: boolean; description?: string; default?: unknown[]; items: Field }
  | { kind: 'object'; name: string; label: string; required: boolean; description?: string; fields: Field[] };

/** One choice of an enum: `value` is sent, `label` is shown. */
export interface Option {
  value: string;
  label: string;
}

type Schema = Record<string, unknown>;

/** Fields for the schema's properties, or `null` when only the JSON editor can do it justice. */
export function formFor(schema: Schema | undefined): Field[] | null {
  if (!schema) return [];
  const fields = objectFields(schema, '');
  return fields;
}

function objectFields(schema: Schema, prefix: string): Field[] | null {
  // An object's own oneOf/anyOf chooses between shapes of the whole object: no form for that.
  if (unsupported(schema) || 'oneOf' in schema || 'anyOf' in schema) return null;
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const out: Field[] = [];
  for (const [name, prop] of Object.entries(props)) {
    // A nested field's label is its own name: the fieldset's legend around it says whose it is.
    const field = fieldFor(prop, name, name, required.has(name));
    if (!field) return null;
    out.push(field);
  }
  return out;
}

function unsupported(schema: Schema): boolean {
  if (['$ref', 'allOf', 'not', 'if', 'patternProperties'].some((k) => k in schema)) return true;
  // A oneOf/anyOf of titled consts is just an enum with labels; any other is a choice of shapes.
  return ('oneOf' in schema || 'anyOf' in schema) && !titledConsts(schema);
}

// Branches that only name a value (and describe it) add no constraint beyond the value itself.
const CONST_BRANCH_KEYS = new Set(['const', 'title', 'description', 'type']);

/** The options of `oneOf`/`anyOf: [{const, title?}, ...]`, or `null` for any other shape. */
function titledConsts(schema: Schema): Option[] | null {
  if ('oneOf' in schema && 'anyOf' in schema) return null;
  const branches = schema.oneOf ?? schema.anyOf;
  if (!Array.isArray(branches) || branches.length === 0) return null;
  const options: Option[] = [];
  for (const b of branches as unknown[]) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return null;
    const branch = b as Schema;
    if (typeof branch.const !== 'string') return null;
    if (!Object.keys(branch).every((k) => CONST_BRANCH_KEYS.has(k))) return null;
    if ('type' in branch && branch.type !== 'string') return null;
    if ('title' in branch && typeof branch.title !== 'string') return null;
    options.push({ value: branch.const, label: (branch.title as string | undefined) ?? branch.const });
  }
  return unique(options);
}

/**
 * The choices of an enum-shaped schema: `undefined` when it is not one, `null` when it is one a
 * select cannot offer (values that are not strings).
 */
function enumOptions(schema: Schema): Option[] | null | undefined {
  if ('oneOf' in schema || 'anyOf' in schema) return titledConsts(schema);
  if (!Array.isArray(schema.enum)) return undefined;
  if (!schema.enum.every((v) => typeof v === 'string')) return null;
  const values = schema.enum as string[];
  // Legacy names only count when they line up one to one with the values.
  const names = schema.enumNames;
  const named = Array.isArray(names) && names.length === values.length && names.every((n) => typeof n === 'string');
  return unique(values.map((value, i) => ({ value, label: named ? (names as string[])[i] : value })));
}

/** Repeated values would be the same choice twice; the first label wins. */
function unique(options: Option[]): Option[] {
  return options.filter((o, i) => options.findIndex((p) => p.value === o.value) === i);
}

function fieldFor(schema: Schema, name: string, label: string, required: boolean): Field | null {
  if (typeof schema !== 'object' || schema === null || unsupported(schema)) return null;
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  const common = { name, label: typeof schema.title === 'string' ? schema.title : label, required, description };
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  if (type.length !== 1) return null;
  const options = enumOptions(schema);
  if (options !== undefined) {
    // String choices only: a select sends strings.
    if (!options || (type[0] !== undefined && type[0] !== 'string')) return null;
    const dflt = typeof schema.default === 'string' ? schema.default : undefined;
    return { kind: 'enum', ...common, options, default: dflt };
  }
  switch (type[0]) {
    case 'string':
      return {
        kind: 'string',
        ...common,
        default: schema.default as string | undefined,
        format: schema.format as string | undefined,
        minLength: typeof schema.minLength === 'number' ? schema.minLength : undefined,
        maxLength: typeof schema.maxLength === 'number' ? schema.maxLength : undefined,
        pattern: typeof schema.pattern === 'string' ? schema.pattern : undefined,
      };
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
      if (!item || item.kind === 'array' || item.kind === 'object' || item.kind === 'multi') return null;
      // An array of choices is a multi-select: tick any of them.
      if (item.kind === 'enum') {
        return {
          kind: 'multi',
          ...common,
          options: item.options,
          default: Array.isArray(schema.default) ? schema.default.filter((v): v is string => typeof v === 'string') : undefined,
          minItems: typeof schema.minItems === 'number' ? schema.minItems : undefined,
          maxItems: typeof schema.maxItems === 'number' ? schema.maxItems : undefined,
        };
      }
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
    // Only defaults that are among the choices: what is ticked is exactly what is sent.
    else if (f.kind === 'multi') out[f.name] = (f.default ?? []).filter((v) => f.options.some((o) => o.value === v));
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
    if (f.kind === 'multi') {
      const c = chosen(f, (raw ?? []) as string[]);
      if ('error' in c) errors[key] = c.error;
      else if (c.value !== undefined) args[f.name] = c.value;
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

/** A multi-select's ticked values, in the options' order; `undefined` when left out. */
function chosen(f: Extract<Field, { kind: 'multi' }>, picked: string[]): { value: string[] | undefined } | { error: string } {
  const stray = picked.find((v) => !f.options.some((o) => o.value === v));
  if (stray !== undefined) return { error: `"${stray}" is not one of ${labels(f.options)}` };
  const value = f.options.map((o) => o.value).filter((v) => picked.includes(v));
  if (value.length === 0) {
    // Left empty and optional: the server's own default applies. An explicit minItems of 0 lets a
    // required field be answered with no choices.
    if (!f.required) return { value: undefined };
    if (f.minItems === 0) return { value };
    return { error: `choose at least ${count(f.minItems ?? 1)}` };
  }
  if (f.minItems !== undefined && value.length < f.minItems) return { error: `choose at least ${count(f.minItems)}` };
  if (f.maxItems !== undefined && value.length > f.maxItems) return { error: `choose at most ${count(f.maxItems)}` };
  return { value };
}

function count(n: number): string {
  return n === 1 ? 'one' : String(n);
}

function labels(options: Option[]): string {
  return options.map((o) => o.label).join(', ');
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
      return f.options.some((o) => o.value === text) ? { value: text } : { error: `choose one of ${labels(f.options)}` };
    case 'string': {
      const length = [...text].length;
      if (f.minLength !== undefined && length < f.minLength) return { error: `at least ${f.minLength} characters` };
      if (f.maxLength !== undefined && length > f.maxLength) return { error: `at most ${f.maxLength} characters` };
      return { value: text };
    }
    case 'boolean':
      return { value: text === 'true' };
    default:
      return { value: text };
  }
}

/**
 * The form's values for `args`: the inverse of `buildArgs`, so the form and the JSON editor are
 * two views of one argument value. A value of the wrong type is shown as text, for `buildArgs` to
 * name what is wrong with it.
 */
export function valuesFor(fields: Field[], args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = args[f.name];
    if (f.kind === 'object') {
      out[f.name] = valuesFor(f.fields, typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
    } else if (f.kind === 'boolean') {
      out[f.name] = typeof v === 'boolean' ? v : undefined;
    } else if (f.kind === 'multi' || f.kind === 'array') {
      out[f.name] = Array.isArray(v) ? v.map(text) : [];
    } else {
      out[f.name] = v === undefined || v === null ? '' : text(v);
    }
  }
  return out;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The arguments' keys no field shows (kept as they are when the form is edited). */
export function extraArgs(fields: Field[], args: Record<string, unknown>): Record<string, unknown> {
  const shown = new Set(fields.map((f) => f.name));
  return Object.fromEntries(Object.entries(args).filter(([k]) => !shown.has(k)));
}

/** What a field accepts, in words (shown under its label): range, length, pattern. */
export function limits(f: Field): string | null {
  const parts: string[] = [];
  if (f.kind === 'number' || f.kind === 'integer') {
    const whole = f.kind === 'integer' ? 'a whole number' : 'a number';
    if (f.minimum !== undefined && f.maximum !== undefined) parts.push(`${whole} from ${f.minimum} to ${f.maximum}`);
    else if (f.minimum !== undefined) parts.push(`${whole}, at least ${f.minimum}`);
    else if (f.maximum !== undefined) parts.push(`${whole}, at most ${f.maximum}`);
    else if (f.kind === 'integer') parts.push(whole);
  } else if (f.kind === 'string') {
    if (f.minLength !== undefined && f.maxLength !== undefined) parts.push(`${f.minLength} to ${f.maxLength} characters`);
    else if (f.minLength !== undefined) parts.push(`at least ${f.minLength} characters`);
    else if (f.maxLength !== undefined) parts.push(`at most ${f.maxLength} characters`);
    // Checked on Run, in a worker with a time limit (patterns.ts), never here: a hostile pattern
    // can take the thread it runs on for days (catastrophic backtracking).
    if (f.pattern !== undefined) parts.push(`matching ${f.pattern.length > 120 ? `${f.pattern.slice(0, 119)}…` : f.pattern}`);
    if (f.format !== undefined) parts.push(`format: ${f.format}`);
  } else if (f.kind === 'multi') {
    if (f.minItems !== undefined && f.maxItems !== undefined) parts.push(`choose ${f.minItems} to ${f.maxItems}`);
    else if (f.minItems !== undefined) parts.push(`choose at least ${f.minItems}`);
    else if (f.maxItems !== undefined) parts.push(`choose at most ${f.maxItems}`);
  }
  return parts.length > 0 ? parts.join(', ') : null;
}

/** A JSON editor's text as arguments, or what is wrong with it (and where, when known). */
export function parseRaw(text: string): { args: Record<string, unknown> } | { error: string } {
  if (text.trim() === '') return { args: {} };
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'arguments must be a JSON object, like {"message": "hi"}' };
    return { args: v as Record<string, unknown> };
  } catch (e) {
    const message = (e as Error).message;
    return { error: `not valid JSON${where(text)}: ${message}` };
  }
}

/**
 * " at line L, column C" of the first error in `text`. The browser's own parser does not say
 * where (WebKit's message has no position), so jsonc-parser, strict, finds it.
 */
function where(text: string): string {
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length === 0) return '';
  const before = text.slice(0, errors[0].offset).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}
