// Variable expansion with the rules of BuildKit's shell lexer: $V, ${V}, ${V:-w}, ${V-w}, ${V:+w},
// ${V+w}, ${V:?w}, ${V?w}, ${V#p} ${V##p} ${V%p} ${V%%p}, ${V/p/r} ${V//p/r}, quotes and the
// Dockerfile escape token. The frontend expands the arguments of ADD COPY ENV EXPOSE FROM LABEL
// STOPSIGNAL USER VOLUME WORKDIR (and ARG defaults); RUN/CMD/ENTRYPOINT are left to the shell.

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
  /** Quotes are ordinary characters (heredoc bodies). */
  skipQuotes?: boolean;
}

export class ExpandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpandError';
  }
}

const SPECIAL_PARAMS = '@*#?-$!0';
const isSpace = (c: string) => /\s/.test(c);

/** Collects words the way the shell splits them: unquoted whitespace separates, quoted text and
 *  escaped characters never do; empty words are dropped. */
class Words {
  private word = '';
  private inWord = false;
  readonly list: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word !== '') {
        this.list.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  done(): string[] {
    if (this.word !== '') this.list.push(this.word);
    this.word = '';
    this.inWord = false;
    return this.list;
  }
}

class Lexer {
  private pos = 0;
  private readonly esc: string;
  private rawEscapes: boolean;

  constructor(
    private readonly src: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
  ) {
    this.esc = opts.escape ?? '\\';
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  /** Reads up to `stop` (consumed) or the end of input. */
  stopOn(stop: string | null, rawEscapes: boolean): { text: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let text = '';
      const words = new Words();
      while (this.pos < this.src.length) {
        const ch = this.src[this.pos];
        if (stop !== null && ch === stop) {
          this.pos++;
          return { text, words: words.done() };
        }
        if (ch === '$') {
          const v = this.dollar();
          text += v;
          words.addString(v); // unquoted expansions are split into words
          continue;
        }
        if (!this.opts.skipQuotes && (ch === "'" || ch === '"')) {
          const v = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
          text += v;
          words.addRaw(v);
          continue;
        }
        this.pos++;
        if (ch === this.esc) {
          if (this.rawEscapes) {
            words.addRaw(ch);
            text += ch;
          }
          if (this.pos >= this.src.length) break; // a trailing escape is dropped
          const next = this.src[this.pos++];
          words.addRaw(next);
          text += next;
          continue;
        }
        words.addChar(ch);
        text += ch;
      }
      if (stop !== null) throw new ExpandError(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.done() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private singleQuoted(): string {
    const start = ++this.pos;
    const end = this.src.indexOf("'", start);
    if (end < 0) throw new ExpandError('unexpected end of statement while looking for matching single-quote');
    this.pos = end + 1;
    const body = this.src.slice(start, end);
    return this.opts.rawQuotes ? `'${body}'` : body;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = this.opts.rawQuotes ? '"' : '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ExpandError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return this.opts.rawQuotes ? out + '"' : out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        if (this.rawEscapes) out += ch;
        const next = this.peek();
        if (next === undefined) continue;
        // Inside double quotes only ", $ and the escape token itself can be escaped.
        if (next === '"' || next === '$' || next === this.esc) {
          out += next;
          this.pos++;
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    const s = this.src;
    const first = s[this.pos];
    if (first === undefined) return '';
    if (/\p{Nd}/u.test(first)) {
      const start = this.pos;
      while (this.pos < s.length && /\p{Nd}/u.test(s[this.pos])) this.pos++;
      return s.slice(start, this.pos);
    }
    if (SPECIAL_PARAMS.includes(first)) return s[this.pos++];
    const start = this.pos;
    while (this.pos < s.length && /[\p{L}\p{Nd}_]/u.test(s[this.pos])) this.pos++;
    return s.slice(start, this.pos);
  }

  /** At a "$": returns its expansion. */
  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.env.get(name);
      if (v === undefined && this.opts.skipUnset) return `$${name}`;
      return v ?? '';
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw new ExpandError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ExpandError('syntax error: bad substitution');
    const name = this.name();
    const value = this.env.get(name);
    const set = value !== undefined;
    let op = this.src[this.pos++] ?? '';
    if (op === '') throw new ExpandError("syntax error: missing '}'");
    if (op === '}') {
      if (!set && this.opts.skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (op === '/') return this.substitute(name, value);
    let shownOp = op;
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = this.src[this.pos++] ?? '';
      shownOp += op;
    } else if (!'+-?#%'.includes(op)) {
      throw new ExpandError(`unsupported modifier (${op}) in substitution`);
    }
    const word = this.modifierWord(op === '#' || op === '%');
    if (!set && this.opts.skipUnset) return `\${${name}${shownOp}${word}}`;
    const unset = !set || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (!set) throw new ExpandError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new ExpandError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value!;
      case '#':
      case '%': {
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return op === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy);
      }
      default:
        throw new ExpandError(`unsupported modifier (${shownOp}) in substitution`);
    }
  }

  private modifierWord(rawEscapes: boolean): string {
    try {
      return this.stopOn('}', rawEscapes).text;
    } catch (e) {
      if (e instanceof ExpandError && this.pos >= this.src.length) throw new ExpandError("syntax error: missing '}'");
      throw e;
    }
  }

  /** ${V/pattern/replacement} (first match) and ${V//pattern/replacement} (all). */
  private substitute(name: string, value: string | undefined): string {
    const all = this.peek() === '/';
    if (all) this.pos++;
    let pattern: string;
    try {
      pattern = this.stopOn('/', true).text;
    } catch (e) {
      if (e instanceof ExpandError && this.pos >= this.src.length) throw new ExpandError("syntax error: missing '/' in ${}");
      throw e;
    }
    const replacement = this.modifierWord(true);
    if (value === undefined && this.opts.skipUnset) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternToRegex(pattern, true, false, all ? 'g' : '');
    return (value ?? '').replace(re, () => replacement);
  }
}

/** A shell pattern (`*`, `?`; `\` escapes `*`, `?`, `\`) as a regex; no bracket expressions. */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, flags = ''): RegExp {
  let re = anchored ? '^' : '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += greedy ? '[\\s\\S]*' : '[\\s\\S]*?';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === '}' || next === '/') continue; // escaped to get past ${…}, not part of the pattern
      if (next !== '*' && next !== '?' && next !== '\\') throw new ExpandError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      re += '\\' + next;
      i++;
    } else re += c.replace(/[[\]{}.+()|^$/]/, '\\$&');
  }
  return new RegExp(re, flags);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Suffix removal as a prefix removal on the reversed value and pattern (escapes kept in order). */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const tokens: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\' && i + 1 < pattern.length) tokens.push(pattern[i] + pattern[++i]);
    else tokens.push(pattern[i]);
  }
  const reversed = [...value].reverse().join('');
  return [...trimPrefix(tokens.reverse().join(''), reversed, greedy)].reverse().join('');
}

function run(word: string, env: Env, opts: LexOptions): { text: string; words: string[] } {
  try {
    const lexer = new Lexer(word, env, opts);
    return lexer.stopOn(null, opts.rawEscapes ?? false);
  } catch (e) {
    // The reason may quote the word's own text (heredocs span lines): keep the error on one line.
    if (e instanceof ExpandError) throw new ExpandError(`failed to process ${JSON.stringify(word)}: ${e.message.replace(/[\r\n]/g, (c) => (c === '\n' ? '\\n' : '\\r'))}`);
    throw e;
  }
}

/** Expands one word: quotes removed, variables substituted, whitespace kept. */
export function expandWord(word: string, env: Env, opts: LexOptions = {}): string {
  return run(word, env, opts).text;
}

/** Expands and splits on unquoted whitespace (as the shell splits a command line into words). */
export function expandWords(text: string, env: Env, opts: LexOptions = {}): string[] {
  return run(text, env, opts).words;
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
