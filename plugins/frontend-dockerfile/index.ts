// The Dockerfile frontend ("dockerfile.v0"): Dockerfile in, build graph out. The parser and the
// .dockerignore matcher are exported for the solver and for fuzzing.
import type { Frontend } from '../../core/frontend/types.ts';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import { convertDockerfile } from './convert.ts';

export const dockerfileFrontend: Frontend = {
  solve: (req) => convertDockerfile(req),
};

export const dockerfileFrontendPlugin: PluginRegistration<unknown, Frontend> = {
  kind: 'frontend',
  id: 'dockerfile.v0',
  description: 'Dockerfile frontend: Dockerfile → build graph (BuildKit-compatible semantics)',
  init: () => dockerfileFrontend,
};

export { convertDockerfile } from './convert.ts';
export { parseDockerfile, parseLine, type Dockerfile, type Node } from './parser.ts';
export { compileProgram, type Program, type StageDef } from './stages.ts';
export { expandWord, expandWords, ExpandError, type LexOptions } from './expand.ts';
export { compileIgnore, compileFilter, mayContainIncluded, parseIgnoreFile, cleanPattern, type IgnoreMatcher, type ContextFilter } from './dockerignore.ts';
export { canonicalJson, vertexId } from './graph.ts';
