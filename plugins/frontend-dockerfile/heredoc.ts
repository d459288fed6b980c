// Heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) in RUN, COPY and ADD lines. A quoted delimiter (any part
// quoted) disables expansion of the body; `<<-` strips leading tabs from body lines.
import { expandWords } from './expand.ts';

export interface Heredoc {
  name: string;
  /** The body as written, each line ending in "\n" (tabs not yet stripped for `<<-`). */
  content: string;
  expand: boolean;
  chomp: boolean;
}

export type HeredocSpec = Omit<Heredoc, 'content'>;

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const NO_ENV = new Map<string, string>();

/** Parses one shell word such as `<<-"EOF"`; null when the word is not a heredoc. */
export function parseHeredocWord(word: string): HeredocSpec | null {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return null;
  let cooked: string[];
  let raw: string[];
  try {
    cooked = expandWords(m[3], NO_ENV, { skipUnset: true });
    raw = expandWords(m[3], NO_ENV, { skipUnset: true, rawQuotes: true, rawEscapes: true });
  } catch {
    return null; // an unbalanced quote: not a heredoc delimiter
  }
  if (cooked.length !== 1 || raw.length !== 1) return null;
  return { name: cooked[0], expand: cooked[0] === raw[0], chomp: m[2] === '-' };
}

/** Every heredoc started on a line, in order. */
export function heredocsFromLine(line: string): HeredocSpec[] {
  let words: string[];
  try {
    words = expandWords(line, NO_ENV, { skipUnset: true, rawQuotes: true, rawEscapes: true });
  } catch {
    return []; // an unbalanced quote is reported later by the instruction itself
  }
  const out: HeredocSpec[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

/** `<<-`: leading tabs removed from every line of the body. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** The body a heredoc delivers (tabs stripped for `<<-`). */
export function heredocData(h: Heredoc): string {
  return h.chomp ? chompHeredoc(h.content) : h.content;
}
