// Dockerfile → BuildGraph. Global ARGs are resolved first, then the target stage is converted,
// pulling in the stages it needs (FROM, COPY --from, RUN --mount from=) on demand, so only stages
// reachable from the target are emitted.
import type { BuildGraph, ImageRuntimeConfig, Platform, Ref } from '../../core/graph/ops.ts';
import { FrontendError, type FrontendRequest, type ResolvedImage } from '../../core/frontend/types.ts';
import { formatPlatform, parsePlatform } from '../../core/image/platform.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { parseDockerfile, nodeError, type Node } from './parser.ts';
import { compileProgram, type Program, type StageDef } from './stages.ts';
import { compile } from './instructions/index.ts';
import type { Command } from './instructions/types.ts';
import { expandWord, ExpandError } from './expand.ts';
import { GraphBuilder } from './graph.ts';
import { parseIgnoreFile } from './dockerignore.ts';
import { cloneConfig, DEFAULT_PATH, stepName, type BuildContext, type StageState } from './state.ts';

/** Instructions that make a vertex and so count as a progress step (as BuildKit counts them). */
const STEP_INSTRUCTIONS = new Set(['run', 'copy', 'add', 'workdir']);

const decoder = new TextDecoder();

function platformArgs(prefix: 'TARGET' | 'BUILD', p: Platform): [string, string][] {
  return [
    [`${prefix}PLATFORM`, formatPlatform(p)],
    [`${prefix}OS`, p.os],
    [`${prefix}ARCH`, p.architecture],
    [`${prefix}VARIANT`, p.variant ?? ''],
  ];
}

function optPlatform(text: string | undefined, fallback: Platform): Platform {
  if (text === undefined || text === '') return fallback;
  if (text.includes(',')) throw new FrontendError(`platform ${JSON.stringify(text)}: building several platforms at once is not supported; pass one`);
  try {
    return parsePlatform(text);
  } catch (e) {
    throw new FrontendError((e as Error).message);
  }
}

export async function convertDockerfile(req: FrontendRequest): Promise<BuildGraph> {
  const filename = req.opts.filename || 'Dockerfile';
  const bytes = await req.readLocalFile('dockerfile', filename);
  if (!bytes) throw new FrontendError(`${filename} not found in the dockerfile source`);
  if (bytes.length === 0) throw new FrontendError('the Dockerfile cannot be empty', filename);
  const program = compileProgram(parseDockerfile(decoder.decode(bytes), filename));
  return new Converter(req, program, filename).run();
}

class Converter {
  private readonly graph: GraphBuilder;
  private readonly buildArgs = new Map<string, string>();
  private readonly predefined = new Map<string, string>();
  private readonly globalArgs = new Map<string, string | undefined>();
  private readonly done = new Map<number, Promise<StageState>>();
  private readonly inProgress = new Set<number>();
  private contextRef?: Promise<Ref>;
  private readonly targetPlatform: Platform;
  private readonly ctx: BuildContext;

  constructor(
    private readonly req: FrontendRequest,
    private readonly program: Program,
    private readonly filename: string,
  ) {
    for (const [k, v] of Object.entries(req.opts)) if (k.startsWith('build-arg:')) this.buildArgs.set(k.slice(10), v);
    const noCache = req.opts['no-cache'];
    const noCacheStages = noCache ? new Set(noCache.split(',').map((s) => s.trim().toLowerCase())) : null;
    this.graph = new GraphBuilder((stage) => noCache !== undefined && (noCacheStages === null || (stage !== undefined && noCacheStages.has(stage))));
    this.targetPlatform = optPlatform(req.opts.platform, req.hostPlatform);
    for (const [k, v] of [...platformArgs('TARGET', this.targetPlatform), ...platformArgs('BUILD', req.hostPlatform)]) this.predefined.set(k, v);
    this.ctx = {
      escape: program.escape,
      graph: this.graph,
      buildArgs: this.buildArgs,
      globalArgs: this.globalArgs,
      predefinedArgs: this.predefined,
      context: () => (this.contextRef ??= this.makeContext()),
      stageByRef: (from, node, current) => this.stageByRef(from, node, current),
    };
  }

  async run(): Promise<BuildGraph> {
    this.resolveGlobalArgs();
    const target = this.targetStage();
    const st = await this.convertStage(target);
    const config: ImageRuntimeConfig = cloneConfig(st.config);
    for (const [k, v] of Object.entries(this.req.opts)) {
      if (k.startsWith('label:')) config.Labels = { ...(config.Labels ?? {}), [k.slice(6)]: v };
    }
    const root = st.ref ?? this.graph.add({ op: 'source.scratch' }, `[${st.name}] scratch`, st.name);
    const image: BuildGraph['image'] = { config, history: st.history, platform: st.platform };
    if (st.baseImage) image.baseImage = st.baseImage;
    return { vertices: this.graph.vertices, root, image };
  }

  /** ARGs before the first FROM: a build-arg wins, else the default (expanded with the ARGs
   *  before it), else a predefined platform value of that name. */
  private resolveGlobalArgs(): void {
    for (const { node, args } of this.program.globalArgs) {
      for (const { key, value } of args) {
        let v = this.buildArgs.get(key);
        if (v === undefined && value !== undefined) v = this.expandMeta(node, value);
        this.globalArgs.set(key, v ?? this.predefined.get(key));
      }
    }
  }

  /** Variables usable in FROM: predefined platform args and global ARGs. */
  private metaEnv(): Map<string, string> {
    const m = new Map(this.predefined);
    for (const [k, v] of this.globalArgs) if (v !== undefined) m.set(k, v);
    return m;
  }

  private expandMeta(node: Node, word: string): string {
    try {
      return expandWord(word, this.metaEnv(), { escape: this.program.escape });
    } catch (e) {
      if (e instanceof ExpandError) throw nodeError(node, e.message);
      throw e;
    }
  }

  private targetStage(): StageDef {
    const t = this.req.opts.target;
    if (!t) return this.program.stages[this.program.stages.length - 1];
    const s = this.program.stages.find((x) => x.name === t.toLowerCase());
    if (!s) {
      const names = this.program.stages.map((x) => x.name).filter(Boolean);
      throw new FrontendError(`target stage ${JSON.stringify(t)} could not be found (stages: ${names.join(', ') || 'none named'})`, this.filename);
    }
    return s;
  }

  private async makeContext(): Promise<Ref> {
    let text: Uint8Array | null = await this.req.readLocalFile('dockerfile', `${this.filename}.dockerignore`);
    if (!text) text = await this.req.readLocalFile('context', '.dockerignore');
    const exclude = text ? parseIgnoreFile(decoder.decode(text)) : [];
    return this.graph.add({ op: 'source.local', name: 'context', exclude: exclude.length > 0 ? exclude : undefined }, '[internal] load build context');
  }

  private async resolveImage(ref: string, platform: Platform, node: Node): Promise<ResolvedImage> {
    try {
      return await this.req.resolveImageConfig(ref, platform);
    } catch (e) {
      throw nodeError(node, `cannot resolve image ${ref} for ${formatPlatform(platform)}: ${(e as Error).message}`);
    }
  }

  private async stageByRef(from: string, node: Node, current: StageState): Promise<StageState | null> {
    let stage: StageDef | undefined;
    if (/^\d+$/.test(from)) {
      stage = this.program.stages[Number(from)];
      if (!stage) throw nodeError(node, `invalid stage index ${from}`);
    } else {
      stage = this.program.stages.find((s) => s.name === from.toLowerCase());
      if (!stage) return null;
    }
    if (stage.index >= current.index) {
      // Stages are built in order (as in BuildKit), so only earlier ones can be copied from.
      throw nodeError(node, `cannot copy from stage ${JSON.stringify(from)}, it needs to be defined before current stage ${JSON.stringify(current.label || current.name)}`);
    }
    return this.convertStage(stage);
  }

  private convertStage(stage: StageDef): Promise<StageState> {
    const known = this.done.get(stage.index);
    if (known) {
      if (this.inProgress.has(stage.index)) {
        throw nodeError(stage.node, `circular dependency detected on stage: ${stage.name ?? stage.index}`);
      }
      return known;
    }
    this.inProgress.add(stage.index);
    const p = this.buildStage(stage).finally(() => this.inProgress.delete(stage.index));
    this.done.set(stage.index, p);
    return p;
  }

  private async buildStage(stage: StageDef): Promise<StageState> {
    const node = stage.node;
    const name = stage.name ?? `stage-${stage.index}`;
    const image = this.expandMeta(node, stage.from.image);
    if (image === '') throw nodeError(node, `base name (${stage.from.image}) should not be blank`);
    let platform = stage.from.platform === undefined ? this.targetPlatform : this.fromPlatform(node, stage.from.platform);
    const st: StageState = {
      name, index: stage.index, ref: null, config: {}, history: [], platform,
      args: new Map(), env: [], cmdSet: false, step: 0, total: 0,
      label: this.program.stages.length === 1 ? '' : name,
    };
    const baseStage = this.program.stages.find((s) => s.name === image.toLowerCase() && s.index < stage.index);
    let resolved: ResolvedImage | undefined;
    if (baseStage) {
      // A stage built FROM another continues its filesystem, config, env and ARGs.
      const base = await this.convertStage(baseStage);
      st.ref = base.ref;
      st.config = cloneConfig(base.config);
      st.history = [...base.history];
      st.platform = platform = base.platform;
      st.baseImage = base.baseImage;
      st.args = new Map(base.args);
      st.env = [...base.env];
    } else if (image.toLowerCase() !== 'scratch') {
      try {
        parseReference(image);
      } catch (e) {
        throw nodeError(node, `failed to parse stage name ${JSON.stringify(image)}: ${(e as Error).message}`);
      }
      resolved = await this.resolveImage(image, platform, node);
      st.config = cloneConfig(resolved.config ?? {});
      st.platform = resolved.platform ?? platform;
      st.baseImage = resolved.ref;
    }
    // BuildKit makes sure PATH is always set in the image config.
    if (!(st.config.Env ?? []).some((kv) => kv.startsWith('PATH='))) st.config.Env = [...(st.config.Env ?? []), `PATH=${DEFAULT_PATH}`];
    if (!baseStage) st.env = [...(st.config.Env ?? [])];
    // ONBUILD triggers of the base (image or stage) run first, then are cleared.
    const triggers = (st.config.OnBuild ?? []).map((text) => this.trigger(text, image, node));
    delete st.config.OnBuild;
    const commands = stage.commands;
    st.total = (resolved ? 1 : 0) + triggers.length + commands.filter((c) => STEP_INSTRUCTIONS.has(c.node.cmd)).length;
    if (resolved) {
      const shown = resolved.digest ? `${resolved.ref}@${resolved.digest}` : resolved.ref;
      st.ref = this.graph.add({ op: 'source.image', ref: resolved.ref, platform }, stepName(st, this.ctx, node, `FROM ${shown}`), name);
    }
    st.inOnbuild = true;
    for (const cmd of triggers) await cmd.dispatch(st, this.ctx);
    st.inOnbuild = false;
    for (const cmd of commands) await cmd.dispatch(st, this.ctx);
    return st;
  }

  /** Compiles an ONBUILD trigger of the base; its errors point at the FROM line. */
  private trigger(text: string, image: string, from: Node): Command {
    try {
      const df = parseDockerfile(text, `${image} ONBUILD`);
      if (df.nodes.length !== 1) throw new Error('an ONBUILD trigger must be a single instruction');
      const n = df.nodes[0];
      if (n.cmd === 'onbuild' || n.cmd === 'from' || n.cmd === 'maintainer') {
        throw new Error(`${n.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      }
      return compile(n, df.directives.escape);
    } catch (e) {
      throw nodeError(from, `ONBUILD trigger ${JSON.stringify(text)} of ${image}: ${(e as Error).message}`);
    }
  }

  private fromPlatform(node: Node, text: string): Platform {
    const expanded = this.expandMeta(node, text);
    try {
      return parsePlatform(expanded);
    } catch (e) {
      throw nodeError(node, `--platform=${expanded}: ${(e as Error).message}`);
    }
  }
}
