import { describe, expect, it } from 'vitest';
import { buildArgs, formFor, initialValues, parseRaw } from './schema';

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

describe('parseRaw', () => {
  it('takes a JSON object and explains anything else', () => {
    expect(parseRaw('{"a": 1}')).toEqual({ args: { a: 1 } });
    expect(parseRaw('')).toEqual({ args: {} });
    expect(parseRaw('[1]')).toEqual({ error: expect.stringContaining('must be a JSON object') });
    expect(parseRaw('{nope')).toEqual({ error: expect.stringContaining('not valid JSON') });
  });
});
