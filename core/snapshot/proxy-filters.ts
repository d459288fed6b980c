// containerd's filter syntax for List, the part snapshot lists use: selectors joined by ","
// (all must hold) in each filter, filters alternatives (any may hold). A selector is a field
// (name, parent, kind, labels.KEY or labels."KEY") alone (present) or with ==, != or ~= (regexp)
// and a bare or double-quoted value.
import { GrpcError, Code } from '../grpc/status.ts';
import type { SnapshotInfo } from './types.ts';

type Selector = { field: string[]; op?: '==' | '!=' | '~='; value?: string; re?: RegExp };

function fieldValue(i: SnapshotInfo, field: string[]): string | undefined {
  switch (field[0]) {
    case 'name':
      return i.key;
    case 'parent':
      return i.parent;
    case 'kind':
      return i.kind;
    case 'labels':
      return field.length > 1 && Object.hasOwn(i.labels, field.slice(1).join('.')) ? i.labels[field.slice(1).join('.')] : undefined;
    default:
      return undefined;
  }
}

function parseFilter(text: string): Selector[] {
  let pos = 0;
  const bad = (why: string): never => {
    throw new GrpcError(Code.INVALID_ARGUMENT, `filter ${JSON.stringify(text)}: ${why} at column ${pos + 1}`);
  };
  const quoted = (): string => {
    let out = '';
    pos++;
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\' && pos + 1 < text.length) pos++;
      out += text[pos++];
    }
    if (text[pos] !== '"') bad('unterminated quote');
    pos++;
    return out;
  };
  const bare = (stop: RegExp): string => {
    const start = pos;
    while (pos < text.length && !stop.test(text[pos])) pos++;
    return text.slice(start, pos);
  };
  const sels: Selector[] = [];
  while (pos <= text.length) {
    const field: string[] = [];
    for (;;) {
      const part = text[pos] === '"' ? quoted() : bare(/[.,=!~]/);
      if (!part) bad('expected a field name');
      field.push(part);
      if (text[pos] !== '.') break;
      pos++;
    }
    if (!['name', 'parent', 'kind', 'labels'].includes(field[0])) bad(`unknown field ${JSON.stringify(field[0])} (name, parent, kind, labels.KEY)`);
    const sel: Selector = { field };
    const op = text.slice(pos, pos + 2);
    if (op === '==' || op === '!=' || op === '~=') {
      pos += 2;
      sel.op = op;
      sel.value = text[pos] === '"' ? quoted() : bare(/,/);
      if (op === '~=') {
        try {
          sel.re = new RegExp(sel.value);
        } catch {
          bad(`invalid regular expression ${JSON.stringify(sel.value)}`);
        }
      }
    }
    sels.push(sel);
    if (pos >= text.length) break;
    if (text[pos] !== ',') bad(`unexpected ${JSON.stringify(text[pos])}`);
    pos++;
  }
  return sels;
}

function matches(i: SnapshotInfo, s: Selector): boolean {
  const val = fieldValue(i, s.field);
  if (!s.op) return val !== undefined && val !== '';
  // An absent field compares as "": containerd asks for parent=="" to find a root snapshot.
  if (s.op === '==') return (val ?? '') === s.value;
  if (s.op === '!=') return (val ?? '') !== s.value;
  return val !== undefined && s.re!.test(val);
}

/** A predicate for List's filters (no filters: everything). Invalid syntax is INVALID_ARGUMENT. */
export function snapshotFilter(filters: string[]): (i: SnapshotInfo) => boolean {
  const parsed = filters.filter((f) => f.trim() !== '').map(parseFilter);
  if (parsed.length === 0) return () => true;
  return (i) => parsed.some((sels) => sels.every((s) => matches(i, s)));
}
