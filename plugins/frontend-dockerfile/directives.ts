// Parser directives: `# syntax=…`, `# escape=…`, `# check=…` lines at the very top of a Dockerfile.
// Scanning stops at the first line that is not a known directive (a comment, a blank line, an
// instruction or an unknown directive), as Docker documents.
import { FrontendError } from '../../core/frontend/types.ts';

export interface Directives {
  syntax?: string;
  escape: '\\' | '`';
  check?: string;
  /** Index of the first line after the directives (0-based). */
  bodyStart: number;
}

const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN = new Set(['syntax', 'escape', 'check']);

export function scanDirectives(lines: readonly string[], file: string): Directives {
  const out: Directives = { escape: '\\', bodyStart: 0 };
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]);
    const key = m?.[1].toLowerCase();
    if (!m || !key || !KNOWN.has(key)) break;
    if (seen.has(key)) throw new FrontendError(`only one ${key} parser directive can be used`, file, i + 1);
    seen.add(key);
    const value = m[2];
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new FrontendError(`invalid escape token '${value}' does not match \` or \\`, file, i + 1);
      }
      out.escape = value;
    } else if (key === 'syntax') out.syntax = value;
    else out.check = value;
    out.bodyStart = i + 1;
  }
  return out;
}
