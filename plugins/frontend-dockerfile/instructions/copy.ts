// COPY and ADD: one file vertex with a copy action per source, on top of the stage (or, with
// --link, on an empty base merged over the stage). Sources come from the build context, another
// stage or image (--from), a heredoc (`COPY <<EOF /path`) or, for ADD, an http(s) URL; ADD also
// unpacks local tar archives.
import type { CopyAction, Ref } from '../../../core/graph/ops.ts';
import type { Instruction } from './types.ts';
import { jsonOrWords } from './syntax.ts';
import { nodeError, type Node } from '../parser.ts';
import { heredocData, parseHeredocWord, type Heredoc } from '../heredoc.ts';
import { commit, expandIn, joinPath, resolveInWorkdir, stepName, type BuildContext, type StageState } from '../state.ts';
import { chownFromUser } from './chown.ts';
import { sourceFrom } from './from-source.ts';

type Source = { kind: 'path'; text: string } | { kind: 'heredoc'; heredoc: Heredoc };

interface CopyCommand {
  add: boolean;
  sources: Source[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir: boolean;
  /** ADD --unpack[=bool]: overrides whether archives are unpacked. */
  unpack?: boolean;
}

/** --chmod: an octal mode up to 07777 (the graph's copy action carries a number, so symbolic
 *  modes such as u+x are refused). */
export function parseChmod(node: Node, text: string): number {
  if (!/^[0-7]+$/.test(text) || parseInt(text, 8) > 0o7777) {
    throw nodeError(node, `invalid --chmod=${text}: it should be an octal mode between 0 and 07777, e.g. 0755`);
  }
  return parseInt(text, 8);
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);
const isGit = (s: string) => /^git@|^git:\/\/|^ssh:\/\/|^https?:\/\/\S+\.git(#.*)?$/i.test(s);

function parse(add: boolean) {
  return (node: Node, flags: import('../flags.ts').Flags): CopyCommand => {
    const what = add ? 'ADD' : 'COPY';
    const words = jsonOrWords(node);
    if (words.length < 2) {
      throw nodeError(node, `${what} requires at least two arguments, but only ${words.length === 1 ? 'one was' : 'none were'} provided. Destination could not be determined`);
    }
    if (parseHeredocWord(words[words.length - 1])) throw nodeError(node, `${what} cannot accept a heredoc as a destination`);
    const sources: Source[] = words.slice(0, -1).map((w) => {
      const spec = node.heredocs.length > 0 ? parseHeredocWord(w) : null;
      const h = spec && node.heredocs.find((x) => x.name === spec.name);
      return h ? { kind: 'heredoc', heredoc: h } : { kind: 'path', text: w };
    });
    const chmod = flags.string('chmod');
    if (chmod !== undefined && !chmod.includes('$')) parseChmod(node, chmod);
    const checksum = flags.string('checksum');
    if (checksum !== undefined && !checksum.includes('$') && !/^sha(256|384|512):[a-f0-9]+$/.test(checksum)) {
      throw nodeError(node, `invalid --checksum=${checksum}: expected sha256:<hex>`);
    }
    return {
      add,
      sources,
      dest: words[words.length - 1],
      from: flags.string('from'),
      chown: flags.string('chown'),
      chmod,
      link: flags.bool('link'),
      exclude: flags.list('exclude'),
      checksum,
      keepGitDir: flags.bool('keep-git-dir'),
      unpack: node.flags.some((f) => f === 'unpack' || f.startsWith('unpack=')) ? flags.bool('unpack') : undefined,
    };
  };
}

/** The file name ADD gives a download: the URL path's last segment. */
export function urlFilename(url: string): string {
  let p: string;
  try {
    p = new URL(url).pathname;
  } catch {
    p = '';
  }
  const base = p.split('/').filter(Boolean).pop();
  return base ? decodeURIComponent(base) : '__unnamed__';
}

async function dispatch(cmd: CopyCommand, node: Node, st: StageState, ctx: BuildContext): Promise<void> {
  const what = cmd.add ? 'ADD' : 'COPY';
  const x = (w: string) => expandIn(st, ctx, node, w);
  const destText = x(cmd.dest);
  if (destText === '') throw nodeError(node, `${what} destination expands to an empty string`);
  // As BuildKit: "dir/", "dir/." and "." mean "into this directory".
  const destIsDir = destText.endsWith('/') || destText === '.' || destText.endsWith('/.');
  const cleaned = joinPath(resolveInWorkdir(st, destText));
  const dest = destIsDir && cleaned !== '/' ? cleaned + '/' : cleaned;
  if (cmd.sources.length > 1 && !destIsDir) {
    throw nodeError(node, `When using ${what} with more than one source file, the destination must be a directory and end with a /`);
  }
  const chownText = cmd.chown === undefined ? undefined : x(cmd.chown);
  const chown = chownText ? chownFromUser(chownText) : undefined;
  const chmodText = cmd.chmod === undefined ? undefined : x(cmd.chmod);
  const chmod = chmodText === undefined || chmodText === '' ? undefined : parseChmod(node, chmodText);
  const exclude = cmd.exclude.map(x);
  const checksum = cmd.checksum === undefined ? undefined : x(cmd.checksum);
  const paths = cmd.sources.flatMap((s) => (s.kind === 'path' ? [x(s.text)] : []));
  const heredocs = cmd.sources.flatMap((s) => (s.kind === 'heredoc' ? [s.heredoc] : []));
  if (checksum !== undefined) {
    if (cmd.sources.length !== 1) throw nodeError(node, "checksum can't be specified for multiple sources");
    if (paths.length !== 1 || !isUrl(paths[0])) throw nodeError(node, 'checksum requires HTTP(S) or Git sources');
  }
  const name = stepName(st, ctx, node);
  // --link layers the copy on an empty base, merged over the stage; BuildKit skips it with --chmod.
  const link = cmd.link && chmod === undefined;
  const common = { dest, chown, chmod, createDestPath: true, exclude: exclude.length > 0 ? exclude : undefined, link: link || undefined };
  const fixed = { followSymlinks: true, dirContentsOnly: false, allowWildcard: false, allowEmptyWildcard: false };
  const actions: CopyAction[] = [];
  let fromRef: Ref | null | undefined;
  let contextRef: Ref | undefined;
  for (const p of paths) {
    if (isGit(p)) throw nodeError(node, cmd.add ? `ADD ${p}: git sources are not supported (the build graph has no git source op)` : "source can't be a git ref for COPY");
    if (isUrl(p)) {
      if (!cmd.add) throw nodeError(node, "source can't be a URL for COPY");
      const filename = urlFilename(p);
      const http = ctx.graph.add({ op: 'source.http', url: p, checksum, filename }, name, st.name);
      actions.push({ action: 'copy', src: http, srcPaths: [`/${filename}`], ...fixed, attemptUnpack: cmd.unpack ?? false, ...common });
      continue;
    }
    let src: Ref | null;
    if (cmd.from !== undefined) {
      if (fromRef === undefined) fromRef = await sourceFrom(cmd.from, node, st, ctx);
      src = fromRef;
    } else {
      contextRef ??= await ctx.context();
      src = contextRef;
    }
    actions.push({
      action: 'copy', src, srcPaths: [joinPath('/', p)], followSymlinks: true, dirContentsOnly: true,
      allowWildcard: true, allowEmptyWildcard: true, attemptUnpack: cmd.unpack ?? cmd.add, ...common,
    });
  }
  for (const h of heredocs) {
    const data = h.expand ? expandIn(st, ctx, node, heredocData(h), { escape: '\\', skipQuotes: true }) : heredocData(h);
    const file = ctx.graph.add(
      { op: 'file', base: null, actions: [{ action: 'mkfile', path: `/${h.name}`, mode: 0o644, data }] },
      '[internal] preparing inline document',
      st.name,
    );
    actions.push({ action: 'copy', src: file, srcPaths: [`/${h.name}`], ...fixed, attemptUnpack: false, ...common });
  }
  const fileRef = ctx.graph.add({ op: 'file', base: link ? null : st.ref, actions }, name, st.name);
  st.ref = link && st.ref ? ctx.graph.add({ op: 'merge', inputs: [st.ref, fileRef] }, name.replace(/\] /, '] LINK '), st.name) : fileRef;
  const shown = [...paths, ...heredocs.map((h) => `<<${h.name}`)];
  const opts = `${chownText ? ` --chown=${chownText}` : ''}${chmodText ? ` --chmod=${chmodText}` : ''}`;
  commit(st, `${what}${opts} ${shown.join(' ')} ${destText}`, true);
}

export const copyInstruction: Instruction<CopyCommand> = {
  flags: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', exclude: 'list' },
  parse: parse(false),
  dispatch,
};

export const addInstruction: Instruction<CopyCommand> = {
  flags: { chown: 'string', chmod: 'string', link: 'bool', exclude: 'list', checksum: 'string', 'keep-git-dir': 'bool', unpack: 'bool' },
  parse: parse(true),
  dispatch,
};
