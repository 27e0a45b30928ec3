// Small helpers for the resources panel: the variables of a resource template and its expansion
// (RFC 6570, through `url-template`), a file name to suggest when saving, and sizes for people.
import { parseTemplate } from 'url-template';

/** The variable names of a URI template, in order, each once (`{?a,b}` gives a and b). */
export function templateVariables(template: string): string[] {
  const names: string[] = [];
  for (const [, expression] of template.matchAll(/\{([^{}]+)\}/g)) {
    // An operator comes first; each variable may end in a prefix (`:3`) or explode (`*`) modifier.
    const list = /^[+#./;?&]/.test(expression) ? expression.slice(1) : expression;
    for (const spec of list.split(',')) {
      const name = spec.trim().replace(/(:\d+|\*)$/, '');
      if (name && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

/**
 * The URI a template names with these values, percent-encoded as RFC 6570 says. An empty value
 * counts as undefined, so `{?q}` left blank adds nothing rather than `?q=`.
 */
export function expandTemplate(template: string, values: Record<string, string>): string {
  const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ''));
  return parseTemplate(template).expand(defined);
}

const EXTENSIONS: Record<string, string> = {
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/html': 'html',
  'text/css': 'css',
  'text/csv': 'csv',
  'text/javascript': 'js',
  'application/javascript': 'js',
  'application/json': 'json',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'application/yaml': 'yaml',
  'text/yaml': 'yaml',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/octet-stream': 'bin',
  'image/jpeg': 'jpg',
  'image/svg+xml': 'svg',
  'audio/mpeg': 'mp3',
};

function extensionFor(mimeType: string): string | null {
  const mime = mimeType.split(';')[0].trim().toLowerCase();
  if (EXTENSIONS[mime]) return EXTENSIONS[mime];
  const subtype = mime.split('/')[1] ?? '';
  if (subtype.endsWith('+json')) return 'json';
  if (subtype.endsWith('+xml')) return 'xml';
  // image/png, image/webp, audio/wav…: the subtype is the usual extension.
  return /^[a-z0-9]{1,8}$/.test(subtype) ? subtype : null;
}

/**
 * A file name to suggest for a resource: the URI's last path segment, else its name, else
 * "resource"; with an extension from the MIME type when it has none. Characters that file
 * systems refuse become "_".
 */
export function fileNameFor(uri: string, name?: string, mimeType?: string): string {
  const path = uri.replace(/[?#].*$/, '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  let base = path.split('/').filter((s) => s !== '').pop() ?? '';
  try {
    base = decodeURIComponent(base);
  } catch {
    // kept as written
  }
  base = (base || name || 'resource').replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_').trim() || 'resource';
  const ext = mimeType ? extensionFor(mimeType) : null;
  return ext && !/\.[A-Za-z0-9]{1,10}$/.test(base) ? `${base}.${ext}` : base;
}

/** A size as people read it, as the tool results say it. */
export function humanSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${bytes} bytes`;
}
