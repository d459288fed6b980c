// Variable expansion with the rules of BuildKit's shell lexer: $V, ${V}, ${V:-w}, ${V-w}, ${V:+w},
// ${V+w}, ${V:?w}, ${V?w}, ${V#p} ${V##p} ${V%p} ${V%%p}, quotes and the Dockerfile escape token.
// The frontend expands the arguments of ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME
// WORKDIR (and ARG defaults); RUN/CMD/ENTRYPOINT are left to the shell in the container.

export type Env = ReadonlyMap<string, string>;

export interface LexOptions {
  /** The Dockerfile escape token: "\\" (default) or "`". */
  escape?: string;
  /** Keep quote characters in the output (used to detect quoted heredoc delimiters). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave unset variables as written instead of expanding them to "". */
  skipUnset?: boolean;
  /** Heredoc body rules: no quote processing; the escape token only escapes $, itself and newline. */
  heredoc?: boolean;
}

export class ExpandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpandError';
  }
}

const SPECIAL_PARAMS = '@*#?-$!0';

class Lexer {
  private pos = 0;
  private readonly esc: string;
  private words: string[] = [];
  private word = '';
  private wordStarted = false;
  /** >0 while reading the word of a ${V:-word}: its text belongs to the expansion, not a word. */
  private depth = 0;

  constructor(
    private readonly src: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
    private readonly split: boolean,
  ) {
    this.esc = opts.escape ?? '\\';
  }

  run(): { text: string; words: string[] } {
    const text = this.until(null);
    if (this.split) this.endWord();
    return { text, words: this.words };
  }

  private endWord(): void {
    if (this.wordStarted || this.word !== '') this.words.push(this.word);
    this.word = '';
    this.wordStarted = false;
  }

  private emit(s: string, out: { s: string }, started = true): void {
    out.s += s;
    if (this.split && this.depth === 0) {
      this.word += s;
      if (started) this.wordStarted = true;
    }
  }

  /** Reads until `stop` (consumed) or the end; returns the processed text. */
  private until(stop: string | null): string {
    const out = { s: '' };
    const s = this.src;
    while (this.pos < s.length) {
      const ch = s[this.pos];
      if (stop !== null && ch === stop) {
        this.pos++;
        return out.s;
      }
      if (ch === this.esc) {
        this.pos++;
        if (this.opts.heredoc) {
          const next = s[this.pos];
          if (next === '$' || next === this.esc) {
            this.emit(next, out);
            this.pos++;
          } else if (next === '\n') {
            this.pos++;
          } else {
            this.emit(ch, out);
          }
          continue;
        }
        if (this.opts.rawEscapes) this.emit(ch, out);
        if (this.pos >= s.length) break; // a trailing escape is dropped
        this.emit(s[this.pos], out);
        this.pos++;
        continue;
      }
      if (!this.opts.heredoc && ch === "'") {
        this.emit(this.singleQuoted(), out);
        continue;
      }
      if (!this.opts.heredoc && ch === '"') {
        this.emit(this.doubleQuoted(), out);
        continue;
      }
      if (ch === '$') {
        // An expansion that yields "" does not start a word on its own, like the shell.
        const v = this.dollar();
        this.emit(v, out, v !== '');
        continue;
      }
      if (this.split && stop === null && /\s/.test(ch)) {
        out.s += ch;
        this.endWord();
        this.pos++;
        continue;
      }
      this.emit(ch, out);
      this.pos++;
    }
    if (stop !== null) throw new ExpandError(`syntax error: missing '${stop}' in ${JSON.stringify(this.src)}`);
    return out.s;
  }

  private singleQuoted(): string {
    const s = this.src;
    const start = ++this.pos;
    const end = s.indexOf("'", start);
    if (end < 0) throw new ExpandError(`unexpected end of statement while looking for matching single-quote in ${JSON.stringify(s)}`);
    this.pos = end + 1;
    const body = s.slice(start, end);
    if (this.split && this.depth === 0) this.wordStarted = true;
    return this.opts.rawQuotes ? `'${body}'` : body;
  }

  private doubleQuoted(): string {
    const s = this.src;
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= s.length) throw new ExpandError(`unexpected end of statement while looking for matching double-quote in ${JSON.stringify(s)}`);
      const ch = s[this.pos];
      if (ch === '"') {
        this.pos++;
        break;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      if (ch === this.esc) {
        const next = s[this.pos + 1];
        // Inside double quotes only ", $ and the escape token itself can be escaped.
        if (next === '"' || next === '$' || next === this.esc) {
          if (this.opts.rawEscapes) out += ch;
          out += next;
          this.pos += 2;
          continue;
        }
      }
      out += ch;
      this.pos++;
    }
    if (this.split && this.depth === 0) this.wordStarted = true;
    return this.opts.rawQuotes ? `"${out}"` : out;
  }

  private name(): string {
    const s = this.src;
    if (this.pos < s.length && /[0-9]/.test(s[this.pos])) {
      const start = this.pos;
      while (this.pos < s.length && /[0-9]/.test(s[this.pos])) this.pos++;
      return s.slice(start, this.pos);
    }
    if (this.pos < s.length && SPECIAL_PARAMS.includes(s[this.pos])) return s[this.pos++];
    const start = this.pos;
    while (this.pos < s.length && /[\p{L}\p{N}_]/u.test(s[this.pos])) this.pos++;
    return s.slice(start, this.pos);
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  /** At a "$": returns its expansion. */
  private dollar(): string {
    const s = this.src;
    this.pos++;
    if (this.pos >= s.length) return '$';
    if (s[this.pos] !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnset) return `$${name}`;
      return v ?? '';
    }
    const open = this.pos;
    this.pos++;
    const name = this.name();
    if (this.pos >= s.length) throw new ExpandError(`syntax error: missing '}' in ${JSON.stringify(s)}`);
    if (name === '') throw new ExpandError(`bad substitution in ${JSON.stringify(s)}`);
    const value = this.lookup(name);
    let op = s[this.pos++];
    if (op === '}') {
      if (value === undefined && this.opts.skipUnset) return s.slice(open - 1, this.pos);
      return value ?? '';
    }
    let colon = false;
    if (op === ':') {
      colon = true;
      op = s[this.pos++];
      if (op !== '-' && op !== '+' && op !== '?') {
        throw new ExpandError(`unsupported modifier (:${op ?? ''}) in substitution ${JSON.stringify(s)}`);
      }
    } else if ((op === '#' || op === '%') && s[this.pos] === op) {
      this.pos++;
      op = op + op;
    } else if (!'-+?#%'.includes(op)) {
      throw new ExpandError(`unsupported modifier (${op}) in substitution ${JSON.stringify(s)}`);
    }
    this.depth++;
    const word = this.until('}');
    this.depth--;
    const unset = colon ? value === undefined || value === '' : value === undefined;
    switch (op) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (unset) throw new ExpandError(`${name}: ${word || (colon ? 'is not allowed to be empty' : 'is not allowed to be unset')}`);
        return value!;
      default:
        return trimPattern(value ?? '', word, op as '#' | '##' | '%' | '%%');
    }
  }
}

/** ${V#p} ${V##p} (prefix) and ${V%p} ${V%%p} (suffix) with shell glob patterns. */
function trimPattern(value: string, pattern: string, op: '#' | '##' | '%' | '%%'): string {
  const re = new RegExp(`^${globToRegex(pattern)}$`, 's');
  const n = value.length;
  if (op === '#' || op === '##') {
    const lens = op === '#' ? range(0, n) : range(0, n).reverse();
    for (const k of lens) if (re.test(value.slice(0, k))) return value.slice(k);
  } else {
    const lens = op === '%' ? range(0, n) : range(0, n).reverse();
    for (const k of lens) if (re.test(value.slice(n - k))) return value.slice(0, n - k);
  }
  return value;
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

function globToRegex(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = p.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < p.length) re += escapeRe(p[++i]);
    else re += escapeRe(c);
  }
  return re;
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Expands one word: quotes removed, variables substituted, whitespace kept. */
export function expandWord(word: string, env: Env, opts: LexOptions = {}): string {
  return new Lexer(word, env, opts, false).run().text;
}

/** Expands and splits on unquoted whitespace (as the shell splits a command line into words). */
export function expandWords(text: string, env: Env, opts: LexOptions = {}): string[] {
  return new Lexer(text, env, opts, true).run().words;
}

/** Builds an expansion environment from "K=V" entries (later entries win). */
export function envMap(...lists: (readonly string[] | undefined)[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
      else if (i < 0) m.set(kv, '');
    }
  }
  return m;
}
