// Showing what a local server runs so that nothing can hide in it: a command line where each
// argument is quoted as a shell would need it, and control or direction-changing characters
// (a newline, an escape, a right-to-left override) written out instead of acting on the screen.

/** Characters that would move, hide or reorder text when printed. */
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;
const HIDDEN_ALL = new RegExp(HIDDEN.source, 'g');
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\', "'": "\\'" };

/** Nothing a shell would read differently: left as it is. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./~^-]+$/;

function escaped(ch: string): string {
  if (NAMED[ch]) return NAMED[ch];
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A text with every hidden character written out (`\n`, `\u202e`), for values shown as they are. */
export function visible(text: string): string {
  return text.replace(HIDDEN_ALL, (ch) => escaped(ch));
}

/** One word of a command line, quoted when it needs to be. */
export function quote(word: string): string {
  if (word === '') return "''";
  if (PLAIN.test(word)) return word;
  if (HIDDEN.test(word)) return `$'${word.replace(/[\\']/g, (ch) => NAMED[ch]).replace(HIDDEN_ALL, (ch) => escaped(ch))}'`;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The whole command line, as one readable string. */
export function commandLine(command: string, args: string[]): string {
  return [command, ...args].map(quote).join(' ');
}
