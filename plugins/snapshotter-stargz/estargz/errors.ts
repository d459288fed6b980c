// One error type for everything wrong with an eStargz blob, so callers (lazy FS, inspect) can map
// it to EIO / exit codes and the message always says which layer and which entry.

export class EstargzError extends Error {
  override readonly name = "EstargzError";
  constructor(
    readonly layerDigest: string,
    readonly entry: string | undefined,
    readonly detail: string,
  ) {
    super(`layer ${layerDigest || "(unknown digest)"}: ${entry === undefined ? "" : `entry ${JSON.stringify(entry)}: `}${detail}`);
  }
}
