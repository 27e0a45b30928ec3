// Every colour pair the window draws text or a field's edge with meets WCAG AA, in both themes:
// 4.5:1 for text, 3:1 for the edge of a control and the focus ring. Read from app.css itself, so
// a colour changed there is checked here.
import { describe, expect, it } from 'vitest';
import css from './app.css?raw';

type Theme = Record<string, string>;

function variables(block: string): Theme {
  return Object.fromEntries([...block.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})/g)].map((m) => [m[1], m[2]]));
}

function themes(): { light: Theme; dark: Theme } {
  const light = variables(/:root\s*{([^}]*)}/.exec(css)![1]);
  const dark = variables(/prefers-color-scheme:\s*dark\)\s*{\s*:root\s*{([^}]*)}/.exec(css)![1]);
  return { light, dark: { ...light, ...dark } };
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT = ['fg', 'muted', 'accent', 'ok', 'warn', 'bad'];
const SURFACES = ['bg', 'panel'];

describe.each(['light', 'dark'] as const)('the %s theme', (name) => {
  const theme = themes()[name];

  it('has every colour it needs', () => {
    for (const v of [...TEXT, ...SURFACES, 'on-accent', 'control', 'focus']) expect(theme[v], v).toMatch(/^#/);
  });

  it('draws text at 4.5:1 or more on every surface, and on a primary button', () => {
    const failing: string[] = [];
    for (const text of TEXT)
      for (const surface of SURFACES) {
        const ratio = contrast(theme[text], theme[surface]);
        if (ratio < 4.5) failing.push(`--${text} on --${surface}: ${ratio.toFixed(2)}`);
      }
    const primary = contrast(theme['on-accent'], theme.accent);
    if (primary < 4.5) failing.push(`--on-accent on --accent: ${primary.toFixed(2)}`);
    expect(failing).toEqual([]);
  });

  it('draws a field’s edge and the focus ring at 3:1 or more', () => {
    for (const surface of SURFACES) {
      expect(contrast(theme.control, theme[surface]), `--control on --${surface}`).toBeGreaterThanOrEqual(3);
      expect(contrast(theme.focus, theme[surface]), `--focus on --${surface}`).toBeGreaterThanOrEqual(3);
    }
  });
});

it('uses the theme’s colours, not fixed ones, for text on the accent', () => {
  expect(css).toMatch(/button\.primary\s*{[^}]*color:\s*var\(--on-accent\)/);
});
