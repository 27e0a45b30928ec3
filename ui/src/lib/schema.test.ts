import { describe, expect, it } from 'vitest';
import { buildArgs, extraArgs, formFor, initialValues, limits, parseRaw, valuesFor } from './schema';

const schema = {
  type: 'object',
  properties: {
    message: { type: 'string', description: 'what to say' },
    count: { type: 'integer', default: 3, minimum: 1 },
    ratio: { type: 'number' },
    loud: { type: 'boolean', default: true },
    mood: { type: 'string', enum: ['calm', 'angry'], default: 'calm' },
    tags: { type: 'array', items: { type: 'string' } },
    nested: { type: 'object', properties: { depth: { type: 'integer' } }, required: ['depth'] },
  },
  required: ['message'],
};

describe('formFor', () => {
  it('makes a field per property with required markers and defaults', () => {
    const fields = formFor(schema)!;
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['message', 'string', true],
      ['count', 'integer', false],
      ['ratio', 'number', false],
      ['loud', 'boolean', false],
      ['mood', 'enum', false],
      ['tags', 'array', false],
      ['nested', 'object', false],
    ]);
    expect(initialValues(fields)).toEqual({
      message: '',
      count: '3',
      ratio: '',
      loud: true,
      mood: 'calm',
      tags: [],
      nested: { depth: '' },
    });
  });

  it('falls back to the JSON editor for what a form cannot express', () => {
    expect(formFor({ type: 'object', properties: { a: { $ref: '#/defs/x' } } })).toBeNull();
    expect(formFor({ type: 'object', properties: { a: { oneOf: [{ type: 'string' }] } } })).toBeNull();
    expect(formFor({ type: 'object', properties: { a: { type: 'object' } } })).toBeNull();
    expect(formFor({ type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: {} } } } })).toBeNull();
    expect(formFor({ type: 'object' })).toEqual([]);
  });
});

describe('buildArgs', () => {
  const fields = formFor(schema)!;

  it('converts values to the schema types and leaves empty optional fields out', () => {
    const values = { ...initialValues(fields), message: 'hi', tags: ['a', '', 'b'], nested: { depth: '2' } };
    expect(buildArgs(fields, values)).toEqual({
      args: { message: 'hi', count: 3, loud: true, mood: 'calm', tags: ['a', 'b'], nested: { depth: 2 } },
      errors: {},
    });
  });

  it('leaves out an optional object left empty, and a boolean nobody ticked', () => {
    const f = formFor({
      type: 'object',
      properties: {
        opt: { type: 'object', properties: { need: { type: 'string' } }, required: ['need'] },
        flag: { type: 'boolean' },
      },
    })!;
    expect(buildArgs(f, initialValues(f))).toEqual({ args: {}, errors: {} });
    // Once something is typed inside, its required fields count.
    expect(buildArgs(f, { opt: { need: '' }, flag: false }).args).toEqual({ flag: false });
    const started = buildArgs(formFor({ type: 'object', properties: { opt: { type: 'object', properties: { need: { type: 'string' }, n: { type: 'integer' } }, required: ['need'] } } })!, { opt: { need: '', n: '2' } });
    expect(started.errors).toEqual({ 'opt.need': 'required' });
  });

  it('names each field that is wrong, and what is wrong with it', () => {
    const values = { ...initialValues(fields), count: '0', ratio: 'lots', nested: { depth: '1.5' } };
    expect(buildArgs(fields, values).errors).toEqual({
      message: 'required',
      count: 'must be at least 1',
      ratio: '"lots" is not a number',
      'nested.depth': '"1.5" is not a whole number',
    });
  });
});

// The enum shapes of MCP elicitation (2025-11-25), which tools use too.
const choices = {
  type: 'object',
  properties: {
    plain: { type: 'string', enum: ['a', 'b'] },
    legacy: { type: 'string', enum: ['a', 'b'], enumNames: ['Alpha', 'Beta'], default: 'b' },
    titled: { type: 'string', oneOf: [{ const: 'a', title: 'Alpha' }, { const: 'b', title: 'Beta' }] },
    anyTitled: { type: 'string', anyOf: [{ const: 'a', title: 'Alpha' }, { const: 'b' }] },
    many: { type: 'array', items: { type: 'string', enum: ['r', 'g', 'b'] }, minItems: 2, maxItems: 2, default: ['g', 'x', 'r'] },
    manyTitled: { type: 'array', items: { anyOf: [{ const: 'r', title: 'Red' }, { const: 'g', title: 'Green' }] } },
    manyOneOf: { type: 'array', items: { oneOf: [{ const: 'r', title: 'Red' }] } },
  },
  required: ['titled', 'many'],
};

describe('choices', () => {
  const fields = formFor(choices)!;

  it('become selects and multi-selects whose options show titles and send values', () => {
    expect(fields.map((f) => [f.name, f.kind, 'options' in f ? f.options : null])).toEqual([
      ['plain', 'enum', [{ value: 'a', label: 'a' }, { value: 'b', label: 'b' }]],
      ['legacy', 'enum', [{ value: 'a', label: 'Alpha' }, { value: 'b', label: 'Beta' }]],
      ['titled', 'enum', [{ value: 'a', label: 'Alpha' }, { value: 'b', label: 'Beta' }]],
      ['anyTitled', 'enum', [{ value: 'a', label: 'Alpha' }, { value: 'b', label: 'b' }]],
      ['many', 'multi', [{ value: 'r', label: 'r' }, { value: 'g', label: 'g' }, { value: 'b', label: 'b' }]],
      ['manyTitled', 'multi', [{ value: 'r', label: 'Red' }, { value: 'g', label: 'Green' }]],
      ['manyOneOf', 'multi', [{ value: 'r', label: 'Red' }]],
    ]);
    expect(fields[4]).toMatchObject({ required: true, minItems: 2, maxItems: 2 });
  });

  it('start from their defaults, keeping only defaults that are among the choices', () => {
    expect(initialValues(fields)).toEqual({
      plain: '',
      legacy: 'b',
      titled: '',
      anyTitled: '',
      many: ['g', 'r'],
      manyTitled: [],
      manyOneOf: [],
    });
  });

  it('send values, not labels, in the options’ order; empty optional ones are left out', () => {
    const values = { ...initialValues(fields), titled: 'b', legacy: 'a', manyTitled: ['g', 'r'] };
    expect(buildArgs(fields, values)).toEqual({
      args: { legacy: 'a', titled: 'b', many: ['r', 'g'], manyTitled: ['r', 'g'] },
      errors: {},
    });
  });

  it('name what is wrong: nothing chosen, too few, too many, or not a choice', () => {
    const base = initialValues(fields);
    expect(buildArgs(fields, { ...base, many: [] }).errors).toEqual({ titled: 'required', many: 'choose at least 2' });
    expect(buildArgs(fields, { ...base, titled: 'a', many: ['r'] }).errors).toEqual({ many: 'choose at least 2' });
    expect(buildArgs(fields, { ...base, titled: 'a', many: ['r', 'g', 'b'] }).errors).toEqual({ many: 'choose at most 2' });
    expect(buildArgs(fields, { ...base, titled: 'c', manyTitled: ['y'] }).errors).toEqual({
      titled: 'choose one of Alpha, Beta',
      manyTitled: '"y" is not one of Red, Green',
    });
    const one = formFor({ type: 'object', properties: { pick: { type: 'array', items: { enum: ['x'] }, maxItems: 1 } }, required: ['pick'] })!;
    expect(buildArgs(one, { pick: [] }).errors).toEqual({ pick: 'choose at least one' });
    // An explicit minItems of 0 makes "none" an answer, even when required.
    const none = formFor({ type: 'object', properties: { pick: { type: 'array', items: { enum: ['x'] }, minItems: 0 } }, required: ['pick'] })!;
    expect(buildArgs(none, { pick: [] })).toEqual({ args: { pick: [] }, errors: {} });
  });

  it('fall back to the JSON editor for any other oneOf/anyOf', () => {
    const prop = (p: Record<string, unknown>) => formFor({ type: 'object', properties: { p } });
    expect(prop({ oneOf: [{ const: 'a', title: 'A' }, { type: 'string' }] })).toBeNull();
    expect(prop({ anyOf: [{ const: 1, title: 'One' }] })).toBeNull();
    expect(prop({ oneOf: [{ const: 'a', title: 'A', minLength: 3 }] })).toBeNull();
    expect(prop({ oneOf: [] })).toBeNull();
    expect(prop({ type: 'integer', oneOf: [{ const: 'a' }] })).toBeNull();
    expect(prop({ type: 'array', items: { anyOf: [{ const: 'a' }, { type: 'number' }] } })).toBeNull();
    expect(prop({ type: 'array', items: { allOf: [{ const: 'a' }] } })).toBeNull();
    expect(prop({ type: 'string', enum: ['a', 1] })).toBeNull();
    // Choosing between shapes of a whole object is not a list of choices.
    expect(formFor({ type: 'object', properties: {}, oneOf: [{ const: 'a' }] })).toBeNull();
  });

  it('ignore enumNames that do not line up with the values, and repeated values', () => {
    const [f] = formFor({ type: 'object', properties: { p: { type: 'string', enum: ['a', 'b', 'a'], enumNames: ['Alpha'] } } })!;
    expect(f).toMatchObject({ kind: 'enum', options: [{ value: 'a', label: 'a' }, { value: 'b', label: 'b' }] });
  });
});

describe('parseRaw', () => {
  it('takes a JSON object and explains anything else', () => {
    expect(parseRaw('{"a": 1}')).toEqual({ args: { a: 1 } });
    expect(parseRaw('')).toEqual({ args: {} });
    expect(parseRaw('[1]')).toEqual({ error: expect.stringContaining('must be a JSON object') });
    expect(parseRaw('{nope')).toEqual({ error: expect.stringContaining('not valid JSON') });
  });

  it('says where the JSON is wrong', () => {
    const parsed = parseRaw('{\n  "a": 1,\n  "b": }');
    expect('error' in parsed && parsed.error).toMatch(/line 3,? column 8/);
  });
});

describe('what a field accepts', () => {
  const fields = formFor({
    type: 'object',
    properties: {
      code: { type: 'string', minLength: 2, maxLength: 4, pattern: '^[a-z]+$' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      inner: { type: 'object', properties: { depth: { type: 'number', minimum: 0 } } },
    },
  })!;

  it('is said in words, and checked before anything is sent', () => {
    expect(fields.map(limits)).toEqual(['2 to 4 characters, matching ^[a-z]+$', 'a whole number from 1 to 65535', null]);
    expect(buildArgs(fields, { code: 'a', port: '0', inner: { depth: '' } }).errors).toEqual({ code: 'at least 2 characters', port: 'must be at least 1' });
    expect(buildArgs(fields, { code: 'abcde', port: '80', inner: { depth: '' } }).errors).toEqual({ code: 'at most 4 characters' });
    // A pattern is never run on the window's thread (a hostile one could hang it): see patterns.ts.
    expect(buildArgs(fields, { code: 'AB', port: '80', inner: { depth: '' } }).errors).toEqual({});
    expect(buildArgs(fields, { code: 'ab', port: '80', inner: { depth: '-1' } }).errors).toEqual({ 'inner.depth': 'must be at least 0' });
  });

  it('never runs a schema’s pattern, however hostile, on what is typed', () => {
    // Running this pattern on this text would backtrack for minutes (and hang the test).
    const [evil] = formFor({ type: 'object', properties: { s: { type: 'string', pattern: '^(a|a)*$' } } })!;
    expect(buildArgs([evil], { s: `${'a'.repeat(40)}!` })).toEqual({ args: { s: `${'a'.repeat(40)}!` }, errors: {} });
  });

  it('labels a nested field by its own name (its fieldset says whose it is)', () => {
    const inner = fields[2];
    expect(inner.kind === 'object' && inner.fields[0].label).toBe('depth');
  });
});

describe('valuesFor', () => {
  const fields = formFor({
    type: 'object',
    properties: {
      message: { type: 'string' },
      count: { type: 'integer' },
      loud: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string' } },
      colours: { type: 'array', items: { enum: ['red', 'blue'] } },
      inner: { type: 'object', properties: { depth: { type: 'number' } } },
    },
  })!;

  it('is the inverse of buildArgs: arguments → form → the same arguments', () => {
    const args = { message: 'hi', count: 3, loud: false, tags: ['a', 'b'], colours: ['blue'], inner: { depth: 1.5 } };
    const values = valuesFor(fields, args);
    expect(values).toMatchObject({ message: 'hi', count: '3', loud: false, tags: ['a', 'b'], colours: ['blue'], inner: { depth: '1.5' } });
    expect(buildArgs(fields, values)).toEqual({ args, errors: {} });
    // Fields the arguments leave out stay empty, and stay out.
    expect(buildArgs(fields, valuesFor(fields, { message: 'x' }))).toEqual({ args: { message: 'x' }, errors: {} });
  });

  it('shows a value of the wrong type as text, for the form to say what is wrong', () => {
    const values = valuesFor(fields, { count: 'many', inner: 'flat' });
    expect(values.count).toBe('many');
    expect(buildArgs(fields, values).errors).toEqual({ count: '"many" is not a number' });
  });

  it('keeps the keys no field shows apart', () => {
    expect(extraArgs(fields, { message: 'x', unknown: [1] })).toEqual({ unknown: [1] });
  });
});
