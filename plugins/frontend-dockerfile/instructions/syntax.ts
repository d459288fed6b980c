// Argument syntaxes shared by instructions: JSON (exec) form vs shell form, whitespace lists and
// `name=value` lists (quotes kept until expansion, as BuildKit's parser does).
import { isJsonArray, nodeError, type Node } from '../parser.ts';

export type CommandForm = { json: true; args: string[] } | { json: false; line: string };

/** A JSON array of strings; null when `rest` is not JSON (then it is shell form). A JSON array
 *  holding anything but strings is an error, as in BuildKit. */
export function jsonArray(node: Node, rest: string): string[] | null {
  if (!rest.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(rest);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  if (!isJsonArray(rest)) throw nodeError(node, 'when using JSON array syntax, arrays must be comprised of strings only');
  return v as string[];
}

/** RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK CMD: a JSON string array, else a shell command line. */
export function jsonOrShell(node: Node, rest = node.rest): CommandForm {
  const args = jsonArray(node, rest);
  return args ? { json: true, args } : { json: false, line: rest };
}

/** COPY/ADD/VOLUME: a JSON string array, else whitespace-separated words. */
export function jsonOrWords(node: Node, rest = node.rest): string[] {
  return jsonArray(node, rest) ?? whitespaceWords(rest);
}

export function whitespaceWords(rest: string): string[] {
  return rest.split(/[ \t\r\n\v\f]+/).filter((w) => w !== '');
}

/** Splits on whitespace outside quotes; quotes and escapes stay in the words. */
export function quotedWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (!quote && /\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    word += ch;
    if (ch === escape && i + 1 < rest.length) {
      word += rest[++i];
      continue;
    }
    if (quote && ch === quote) quote = '';
    else if (!quote && (ch === '"' || ch === "'")) quote = ch;
  }
  if (inWord) words.push(word);
  return words;
}

export interface KeyValue {
  key: string;
  /** Raw (still quoted, not expanded); undefined for a bare `ARG NAME`. */
  value?: string;
}

/** ENV/LABEL: `K=V …`, or the legacy `K V` (one pair, value = the rest of the line). */
export function nameValues(node: Node, escape: string): KeyValue[] {
  const words = quotedWords(node.rest, escape);
  const what = node.cmd.toUpperCase();
  if (words.length === 0) throw nodeError(node, `${what} requires at least one argument`);
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(node.rest);
    if (!m) throw nodeError(node, `${what} must have two arguments (${what} name=value or ${what} name value)`);
    return [{ key: m[1], value: m[2].trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw nodeError(node, `Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    if (eq === 0) throw nodeError(node, `${what} names can not be blank (in ${JSON.stringify(w)})`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}
