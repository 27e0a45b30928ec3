import { describe, expect, it } from 'vitest';
import { commandLine, visible } from './launch';

describe('a command line as shown', () => {
  it('leaves plain words alone and quotes the rest as a shell would need', () => {
    expect(commandLine('npx', ['-y', '@scope/pkg@1.2', 'a b', "it's", ''])).toBe(`npx -y @scope/pkg@1.2 'a b' 'it'\\''s' ''`);
  });

  it('writes out characters that would hide or reorder text', () => {
    expect(commandLine('node', ['a\nrm -rf ~', 'x\u202Ey'])).toBe(`node $'a\\nrm -rf ~' $'x\\u202ey'`);
    expect(visible('/srv/\u0007app')).toBe('/srv/\\x07app');
  });
});
