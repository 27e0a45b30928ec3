// How a link a server wants opened is shown: the whole of it, with the part that decides where
// the browser goes (scheme and host) picked out, so a look tells a person where they are sent.

export interface LinkParts {
  /** Scheme and host exactly as the text starts, emphasised; empty when the text does not start so. */
  head: string;
  /** The rest of the text, or all of it. */
  tail: string;
  /** Where the browser really goes (IDN in punycode), or null if the text is no URL. */
  host: string | null;
}

export function linkParts(raw: string): LinkParts {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { head: '', tail: raw, host: null };
  }
  const head = `${url.protocol}//${url.host}`;
  // Only emphasise what the text literally shows. `https://bank.example@evil.example/` or a
  // look-alike Unicode host would otherwise put a misleading prefix in bold; then the whole text
  // is plain and the real host is shown apart.
  if (raw.startsWith(head)) return { head, tail: raw.slice(head.length), host: url.host };
  return { head: '', tail: raw, host: url.host };
}
