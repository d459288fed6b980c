// .dockerignore: reading the file and matching paths the way Docker does (moby/patternmatcher):
// patterns are cleaned (leading "/" and "./" removed), `*` and `?` stay inside one path segment,
// `**` spans any number of segments, `[…]` is a character class, `!` re-includes, the last
// matching pattern wins, and a pattern that matches a directory also matches everything in it.

/** Patterns of a .dockerignore file: comments and blank lines dropped, each pattern cleaned. */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (const rawLine of text.replace(/^\uFEFF/, '').split('\n')) {
    const raw = rawLine.replace(/\r$/, '');
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p !== '') p = cleanPattern(p);
    out.push(invert ? '!' + p : p);
  }
  return out;
}

/** filepath.Clean, then the leading "/" dropped: "./a//b/" → "a/b", "/x" → "x". */
export function cleanPattern(p: string): string {
  const c = cleanPath(p);
  return c.length > 1 && c.startsWith('/') ? c.slice(1) : c;
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const segs: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (segs.length > 0 && segs[segs.length - 1] !== '..') segs.pop();
      else if (!abs) segs.push('..');
    } else segs.push(s);
  }
  const out = (abs ? '/' : '') + segs.join('/');
  return out === '' ? (abs ? '/' : '.') : out;
}

interface Pattern {
  exclusion: boolean;
  re: RegExp;
  /** The pattern's segments, for "could something under this directory match?". */
  segments: string[];
}

const REGEX_SPECIAL = /[.+()|{}$^]/;

function compilePattern(text: string): Pattern {
  const exclusion = text.startsWith('!');
  const p = exclusion ? text.slice(1) : text;
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') i++; // "**/" is treated as "**"
        re += i + 1 >= p.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      re += i + 1 < p.length ? '\\' + p[++i] : '\\\\';
    } else if (ch === '[') {
      // a character class: "[^…]" negates, as in Go's filepath.Match
      const end = p.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += '[' + p.slice(i + 1, end).replace(/\\(?!.)/g, '\\\\') + ']';
        i = end;
      }
    } else if (REGEX_SPECIAL.test(ch) || ch === ']') re += '\\' + ch;
    else re += ch;
  }
  re += '$';
  let compiled: RegExp;
  try {
    compiled = new RegExp(re, 's');
  } catch {
    throw new Error(`invalid .dockerignore pattern ${JSON.stringify(text)}`);
  }
  return { exclusion, re: compiled, segments: p.split('/') };
}

export interface IgnoreMatcher {
  /** True when relPath (relative to the context root) is excluded. */
  (relPath: string, isDir?: boolean): boolean;
}

function normalizeRel(relPath: string): string {
  const c = cleanPath(relPath);
  return c.startsWith('/') ? c.slice(1) || '.' : c;
}

/** Compiles patterns into `(relPath, isDir) => excluded`. */
export function compileIgnore(patterns: readonly string[]): IgnoreMatcher {
  const compiled = patterns.filter((p) => p !== '' && p !== '!').map(compilePattern);
  return (relPath: string) => {
    const file = normalizeRel(relPath);
    if (file === '.') return false;
    const parents = file.split('/').slice(0, -1);
    let matched = false;
    for (const pat of compiled) {
      // An exception only matters once something matched; an exclusion only when nothing has.
      if (pat.exclusion !== matched) continue;
      let hit = pat.re.test(file);
      for (let i = 1; !hit && i <= parents.length; i++) hit = pat.re.test(parents.slice(0, i).join('/'));
      if (hit) matched = !pat.exclusion;
    }
    return matched;
  };
}

/** Whether one pattern segment can match one path segment. */
function segmentMatches(seg: string, name: string): boolean {
  return compilePattern(seg).re.test(name);
}

/**
 * Whether an excluded directory may still hold re-included (`!`) paths, so a walker has to
 * descend into it instead of skipping it whole.
 */
export function mayContainIncluded(patterns: readonly string[], dirRelPath: string): boolean {
  const dir = normalizeRel(dirRelPath);
  const dirSegs = dir === '.' ? [] : dir.split('/');
  for (const text of patterns) {
    if (!text.startsWith('!') || text === '!') continue;
    const segs = text.slice(1).split('/');
    if (prefixCanMatch(segs, 0, dirSegs, 0)) return true;
  }
  return false;
}

/** Can pattern segments segs[i..] match dirSegs[j..] followed by at least one more segment? */
function prefixCanMatch(segs: string[], i: number, dirSegs: string[], j: number): boolean {
  if (j === dirSegs.length) return true; // pattern may continue below the directory (or matched it)
  if (i === segs.length) return true; // the directory is under a re-included path
  if (segs[i].includes('**')) return prefixCanMatch(segs, i + 1, dirSegs, j) || prefixCanMatch(segs, i, dirSegs, j + 1);
  if (!segmentMatches(segs[i], dirSegs[j])) return false;
  return prefixCanMatch(segs, i + 1, dirSegs, j + 1);
}

/** The solver's view of a context filter: `excluded(rel, isDir)` plus the descend hint. */
export interface ContextFilter {
  excluded(rel: string, isDir: boolean): boolean;
  mayContainIncluded(rel: string): boolean;
}

export function compileFilter(patterns: string[]): ContextFilter {
  const match = compileIgnore(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith('!'));
  return {
    excluded: (rel, isDir) => match(rel, isDir),
    mayContainIncluded: (rel) => hasExceptions && mayContainIncluded(patterns, rel),
  };
}
