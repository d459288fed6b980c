// Dockerfile → instruction nodes. Each node keeps its instruction word, its raw `--flags`, the
// rest of the line, the text as written and its line span; heredoc bodies are attached to the
// RUN/COPY/ADD that opened them. Argument syntax (JSON vs shell form, name=value) is read by the
// instruction modules, which know what each instruction accepts.
import { FrontendError } from '../../core/frontend/types.ts';
import { scanDirectives, type Directives } from './directives.ts';
import { DockerfileLexer } from './lexer.ts';
import { heredocsFromLine, type Heredoc } from './heredoc.ts';

export interface Node {
  /** Lower-case instruction word: "run", "copy", … */
  cmd: string;
  /** Raw flags as written, without the leading "--": "from=dev", "link". */
  flags: string[];
  /** The arguments after the flags. */
  rest: string;
  /** The logical line as written (continuations joined). */
  original: string;
  file: string;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
  /** ONBUILD: the trigger instruction. */
  trigger?: Node;
}

export interface Dockerfile {
  file: string;
  directives: Directives;
  nodes: Node[];
  warnings: string[];
}

export const INSTRUCTIONS = new Set([
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label',
  'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
]);
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

/** Shortened instruction text for error messages. */
export function excerpt(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 100 ? one.slice(0, 97) + '...' : one;
}

/** An error pointing at an instruction: `Dockerfile:7: COPY --foo a /b: unknown flag --foo`. */
export function nodeError(node: Pick<Node, 'file' | 'startLine' | 'original'>, message: string): FrontendError {
  return new FrontendError(`${excerpt(node.original)}: ${message}`, node.file, node.startLine);
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const firstLines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  const directives = scanDirectives(firstLines, file);
  const lexer = new DockerfileLexer(text, directives.escape);
  const nodes: Node[] = [];
  const warnings: string[] = [];
  for (let line = lexer.nextLogical(); line; line = lexer.nextLogical()) {
    if (line.emptyContinuation) {
      warnings.push(`${file}:${line.startLine}: empty continuation line (will become an error in a future Dockerfile syntax)`);
    }
    const node = parseLine(line.text, { file, startLine: line.startLine, endLine: line.endLine });
    // ONBUILD RUN <<EOF … carries its trigger's heredocs (as BuildKit allows).
    const heredocHolder = node.trigger ?? node;
    if (HEREDOC_INSTRUCTIONS.has(heredocHolder.cmd) && line.text.includes('<<') && !isJsonArray(heredocHolder.rest)) {
      for (const spec of heredocsFromLine(heredocHolder.rest)) {
        const content = lexer.readHeredoc(spec.name, spec.chomp);
        if (content === null) {
          throw new FrontendError(`${excerpt(node.original)}: unterminated heredoc <<${spec.name} (end of file at line ${lexer.line})`, file, line.startLine);
        }
        heredocHolder.heredocs.push({ ...spec, content });
      }
      node.endLine = heredocHolder.endLine = lexer.line;
    }
    nodes.push(node);
  }
  return { file, directives, nodes, warnings };
}

export function isJsonArray(rest: string): boolean {
  if (!rest.trimStart().startsWith('[')) return false;
  try {
    const v: unknown = JSON.parse(rest);
    return Array.isArray(v) && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

interface Where {
  file: string;
  startLine: number;
  endLine: number;
}

/** Parses one logical line into a node (also used for ONBUILD triggers). */
export function parseLine(text: string, where: Where): Node {
  const original = text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(original);
  if (!m) throw new FrontendError('empty instruction', where.file, where.startLine);
  const cmd = m[1].toLowerCase();
  const base = { original, ...where };
  if (!INSTRUCTIONS.has(cmd)) throw nodeError(base, `unknown instruction: ${m[1].toUpperCase()}`);
  const { flags, rest } = extractFlags(m[2], base);
  const node: Node = { cmd, flags, rest: rest.trim(), ...base, heredocs: [] };
  if (cmd === 'onbuild') {
    if (flags.length > 0) throw nodeError(node, `ONBUILD takes no flags of its own (got --${flags[0]})`);
    if (node.rest === '') throw nodeError(node, 'ONBUILD requires an instruction');
    const trigger = parseLine(node.rest, where);
    if (trigger.cmd === 'onbuild') throw nodeError(node, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    if (trigger.cmd === 'from' || trigger.cmd === 'maintainer') {
      throw nodeError(node, `${trigger.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
    }
    node.trigger = trigger;
  }
  return node;
}

/** Leading `--name[=value]` words (quotes and backslashes inside a flag are honoured). */
function extractFlags(line: string, where: Pick<Node, 'file' | 'startLine' | 'original'>): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos])) pos++;
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quote = '';
    let i = pos;
    for (; i < line.length; i++) {
      const ch = line[i];
      if (quote) {
        if (ch === quote) quote = '';
        else if (ch === '\\' && i + 1 < line.length) word += line[++i];
        else word += ch;
        continue;
      }
      if (/\s/.test(ch)) break;
      if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '\\' && i + 1 < line.length) word += line[++i];
      else word += ch;
    }
    if (quote) throw nodeError(where, `unterminated quote in flag ${excerpt(line.slice(pos, i))}`);
    if (word === '--') return { flags, rest: line.slice(i) }; // "--" ends the flags
    flags.push(word.slice(2));
    pos = i;
  }
}
