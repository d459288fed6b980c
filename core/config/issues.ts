// Turns valibot issues into one line naming the key and what was expected.
import type * as v from 'valibot';

/** `registry."127.0.0.1:5000".http` style path of an issue. */
export function issueKey(issue: v.BaseIssue<unknown>): string {
  const parts = (issue.path ?? []).map((p) => String(p.key));
  return parts.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k))).join('.');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return 'table';
  return `${typeof value} ${String(value)}`;
}

export function formatIssue(issue: v.BaseIssue<unknown>, keyPrefix = ''): string {
  const key = [keyPrefix, issueKey(issue)].filter(Boolean).join('.');
  // Unknown keys of strict objects arrive as type "strict_object" issues with the key in the path.
  if (issue.type === 'strict_object' || issue.expected === 'never') {
    return `unknown key ${key || '(top level)'}`;
  }
  const expected = issue.expected ?? issue.message;
  return `key ${key || '(top level)'}: expected ${expected}, got ${describe(issue.input)}`;
}
