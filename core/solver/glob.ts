// Go's filepath.Match semantics for COPY/ADD source wildcards: `*` and `?` never cross `/`,
// `[…]` classes with `^`/`!` negation, `\` escapes.

export function hasWildcard(p: string): boolean {
  return /[*?[]/.test(p);
}

function segmentRegex(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]);
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern ${JSON.stringify(pattern)}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(re + '$');
}

const escape = (c: string) => c.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');

/** Matches a whole slash-separated path against a pattern, segment by segment. */
export function matchPath(pattern: string, path: string): boolean {
  const ps = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (ps.length !== xs.length) return false;
  return ps.every((p, i) => segmentRegex(p).test(xs[i]));
}
