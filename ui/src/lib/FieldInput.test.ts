import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import FieldInput from './FieldInput.svelte';
import { formFor, initialValues } from './schema';

const fields = formFor({
  type: 'object',
  properties: {
    size: { type: 'string', title: 'Size', oneOf: [{ const: 's', title: 'Small' }, { const: 'l', title: 'Large' }] },
    colours: {
      type: 'array',
      title: 'Colours',
      description: 'Pick two',
      items: { anyOf: [{ const: 'r', title: 'Red' }, { const: 'g', title: 'Green' }, { const: 'b', title: 'Blue' }] },
      minItems: 2,
      default: ['b'],
    },
  },
  required: ['colours'],
})!;

// The app binds a parent's $state; a plain object stands in for it here (runes need a .svelte
// file), so Svelte's dev warning about binding to a non-reactive property is expected and muted.
beforeEach(() => {
  const warn = console.warn.bind(console);
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).includes('binding_property_non_reactive')) warn(...args);
  });
});
afterEach(() => vi.restoreAllMocks());

function show(errors: Record<string, string> = {}) {
  const values = initialValues(fields);
  for (const field of fields) render(FieldInput, { field, values, errors, path: field.name });
  return values;
}

describe('a choice field', () => {
  it('shows titles in a select and binds the chosen value', async () => {
    const values = show();
    const select = screen.getByRole('combobox', { name: 'Size' });
    expect([...select.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['(none)', 'Small', 'Large']);
    await userEvent.setup().selectOptions(select, 'Large');
    expect(values.size).toBe('l');
  });

  it('offers many choices as labelled checkboxes in a group, kept in the options’ order', async () => {
    const values = show();
    const group = screen.getByRole('group', { name: /^Colours.*\(required\)$/ });
    expect(group).toHaveTextContent('Pick two');
    expect(screen.getByRole('checkbox', { name: 'Blue' })).toBeChecked(); // the default
    const user = userEvent.setup();
    await user.click(screen.getByRole('checkbox', { name: 'Red' }));
    expect(values.colours).toEqual(['r', 'b']);
    await user.click(screen.getByRole('checkbox', { name: 'Blue' }));
    await user.click(screen.getByRole('checkbox', { name: 'Green' }));
    expect(values.colours).toEqual(['r', 'g']);
    // Keyboard: Space ticks the focused box.
    screen.getByRole('checkbox', { name: 'Blue' }).focus();
    await user.keyboard(' ');
    expect(values.colours).toEqual(['r', 'g', 'b']);
  });

  it('says what is wrong with the group, linked to it', () => {
    show({ colours: 'choose at least 2' });
    expect(screen.getByRole('alert')).toHaveTextContent('choose at least 2');
    expect(screen.getByRole('group', { name: /Colours/ })).toHaveAccessibleDescription('choose at least 2');
  });
});

describe('a required choice without a default', () => {
  it('shows “Choose…” until the person chooses, instead of looking chosen', () => {
    const [field] = formFor({ type: 'object', properties: { size: { type: 'string', enum: ['s', 'l'] } }, required: ['size'] })!;
    const values = initialValues([field]);
    render(FieldInput, { field, values, errors: {}, path: 'size' });
    const select = screen.getByLabelText(/size/) as HTMLSelectElement;
    expect(select.selectedOptions[0]).toHaveTextContent('Choose…');
    expect(select.selectedOptions[0]).toBeDisabled();
  });
});
