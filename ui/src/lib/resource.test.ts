import { describe, expect, it } from 'vitest';
import { expandTemplate, fileNameFor, humanSize, templateVariables } from './resource';

describe('templateVariables', () => {
  it('finds the variables of every RFC 6570 operator, each once, without modifiers', () => {
    expect(templateVariables('demo://resource/dynamic/text/{resourceId}')).toEqual(['resourceId']);
    expect(templateVariables('x://{+base}{/seg*}{.ext}{#frag}{?q,lang}{&page}{;v:3}{seg}')).toEqual([
      'base', 'seg', 'ext', 'frag', 'q', 'lang', 'page', 'v',
    ]);
    expect(templateVariables('file:///plain')).toEqual([]);
  });
});

describe('expandTemplate', () => {
  it('percent-encodes as RFC 6570 says for each operator', () => {
    expect(expandTemplate('demo://t/{id}', { id: 'a b/c' })).toBe('demo://t/a%20b%2Fc');
    expect(expandTemplate('demo://{+path}', { path: 'a b/c' })).toBe('demo://a%20b/c');
    expect(expandTemplate('demo://x{#f}', { f: 'a/b' })).toBe('demo://x#a/b');
    expect(expandTemplate('demo://x{/a,b}', { a: '1', b: 'x/y' })).toBe('demo://x/1/x%2Fy');
    expect(expandTemplate('demo://x{.ext}', { ext: 'md' })).toBe('demo://x.md');
    expect(expandTemplate('demo://s{?q,lang}{&page}', { q: 'c&d', lang: 'en', page: '2' })).toBe('demo://s?q=c%26d&lang=en&page=2');
    expect(expandTemplate('demo://m{;v}', { v: '1' })).toBe('demo://m;v=1');
  });

  it('leaves out what was left blank', () => {
    expect(expandTemplate('demo://s{?q,lang}', { q: '', lang: 'en' })).toBe('demo://s?lang=en');
    expect(expandTemplate('demo://s{?q}', { q: '' })).toBe('demo://s');
  });
});

describe('fileNameFor', () => {
  it('uses the last path segment and adds an extension from the MIME type when it has none', () => {
    expect(fileNameFor('demo://resource/dynamic/text/1', 'Resource 1', 'text/plain')).toBe('1.txt');
    expect(fileNameFor('file:///docs/architecture.md', undefined, 'text/markdown')).toBe('architecture.md');
    expect(fileNameFor('demo://pics/cat%20photo?size=big', undefined, 'image/png')).toBe('cat photo.png');
    expect(fileNameFor('demo://data/feed', undefined, 'application/ld+json')).toBe('feed.json');
    expect(fileNameFor('demo://blob/x', undefined, 'application/octet-stream')).toBe('x.bin');
  });

  it('falls back to the resource name, then to "resource", and keeps file systems happy', () => {
    expect(fileNameFor('demo://host', 'My: notes', 'application/json')).toBe('My_ notes.json');
    expect(fileNameFor('demo://host/')).toBe('resource');
    expect(fileNameFor('demo://x/a%2Fb')).toBe('a_b');
  });
});

describe('humanSize', () => {
  it('reads like the tool results', () => {
    expect(humanSize(512)).toBe('512 bytes');
    expect(humanSize(262_144)).toBe('262 kB');
    expect(humanSize(12_345_678)).toBe('12.3 MB');
  });
});
