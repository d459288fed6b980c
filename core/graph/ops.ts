// The build graph: plain operations joined by data, in the spirit of BuildKit's LLB.
// A frontend emits a BuildGraph; the solver walks it knowing nothing of Dockerfiles.
// Every shape here is plain JSON so a graph can be printed, hashed and sent over a socket.

/** A reference to one vertex's output (its id in BuildGraph.vertices). */
export type Ref = string;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Shown in progress: `#N [stage k/n] RUN …`. */
export interface VertexMeta {
  name: string; // e.g. "[dev 2/3] RUN go build -o /hello /hello.go"
  ignoreCache?: boolean;
}

/** An image from a registry (rootfs = its layers). FROM; COPY --from=image. */
export interface ImageSourceOp {
  op: 'source.image';
  ref: string; // normalised reference, e.g. "127.0.0.1:5000/golang:1.19"
  platform: Platform;
}

/** A local directory the client supplies (--local NAME=DIR). */
export interface LocalSourceOp {
  op: 'source.local';
  name: string; // "context" | "dockerfile" | other --local name
  include?: string[]; // only these patterns (follow paths), for COPY narrowing
  exclude?: string[]; // .dockerignore patterns (`!` exceptions kept, last match wins)
}

/** A file downloaded over http(s) (ADD URL). */
export interface HttpSourceOp {
  op: 'source.http';
  url: string;
  checksum?: string; // "sha256:…"
  filename: string; // name of the single file in the output
  chmod?: number;
}

/** The empty filesystem (FROM scratch). */
export interface ScratchOp {
  op: 'source.scratch';
}

export interface ExecMount {
  target: string; // absolute path in the container; "/" is the root mount
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  input?: Ref; // for bind (and "/"): the vertex whose output is mounted; undefined = scratch
  source?: string; // sub-path inside input
  readonly?: boolean;
  /** The root mount and writable binds produce outputs; output = this mount's result. */
  output?: boolean;
  cacheId?: string; // type=cache
  sharing?: 'shared' | 'private' | 'locked';
  secretId?: string; // type=secret
  /** type=secret,env=NAME: the secret's value is also given to the process as $NAME. */
  env?: string;
  required?: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number; // tmpfs bytes
}

/** RUN. The output is the root mount after the process exits 0. */
export interface ExecOp {
  op: 'exec';
  args: string[]; // already through SHELL for shell form
  env: string[]; // K=V
  cwd: string;
  user: string; // "uid[:gid]" or names, resolved against the rootfs
  network: 'default' | 'none' | 'host';
  mounts: ExecMount[];
  hostname?: string;
}

export interface ChownOpt {
  user: string; // name or id
  group?: string;
}

export interface CopyAction {
  action: 'copy';
  src: Ref | null; // null = scratch
  srcPaths: string[]; // may contain wildcards when allowWildcard
  dest: string; // absolute; trailing "/" means "into directory"
  chown?: ChownOpt;
  chmod?: number;
  followSymlinks: boolean;
  dirContentsOnly: boolean; // COPY dir/ dest copies the contents of dir
  allowWildcard: boolean;
  allowEmptyWildcard: boolean;
  exclude?: string[];
  createDestPath: boolean;
  attemptUnpack: boolean; // ADD of a local tar archive
  link?: boolean;
}

export interface MkdirAction {
  action: 'mkdir';
  path: string;
  mode: number;
  makeParents: boolean;
  chown?: ChownOpt;
}

export interface MkfileAction {
  action: 'mkfile';
  path: string;
  mode: number;
  data: string; // utf-8 (heredoc contents)
  chown?: ChownOpt;
}

export interface RmAction {
  action: 'rm';
  path: string;
  allowNotFound: boolean;
  allowWildcard: boolean;
}

export type FileAction = CopyAction | MkdirAction | MkfileAction | RmAction;

/** COPY/ADD/WORKDIR(mkdir): actions applied in order on top of base. */
export interface FileOp {
  op: 'file';
  base: Ref | null; // null = scratch
  actions: FileAction[];
}

/** COPY --link: layers stacked without copying (output = union, later wins). */
export interface MergeOp {
  op: 'merge';
  inputs: Ref[];
}

export type Op = ImageSourceOp | LocalSourceOp | HttpSourceOp | ScratchOp | ExecOp | FileOp | MergeOp;

export interface Vertex {
  id: Ref; // "sha256:" of the canonical JSON of { op, inputs' ids } — stable across runs
  op: Op;
  meta: VertexMeta;
}

/** OCI image config fields the frontend decides (the `config` object of an image config). */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Shell?: string[];
  OnBuild?: string[];
  Healthcheck?: {
    Test?: string[];
    Interval?: number; // nanoseconds
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** What a frontend returns: the graph plus the final image's metadata. */
export interface BuildGraph {
  vertices: Record<Ref, Vertex>;
  /** The target stage's result. */
  root: Ref;
  /** Image config of the target stage, complete: the frontend has already merged the base
   *  image's fields (via resolveImageConfig); the solver only prepends the base history. */
  image: {
    config: ImageRuntimeConfig;
    history: HistoryEntry[]; // entries this build adds, in order (base history is prepended)
    platform: Platform;
    baseImage?: string; // ref of the image the target stage is FROM (transitively), if any
  };
}
