// The compressor plugins an exporter can pick from by `compression=<id>`.
import type { InitContext } from '../plugin/types.ts';
import type { Compressor } from './types.ts';

export function compressorsFrom(ctx: Pick<InitContext<unknown>, 'all'>): () => Map<string, Compressor> {
  // Looked up per export: the set of ok plugins is fixed after init, but this keeps exporters
  // independent of initialisation order among compressors.
  return () => new Map(ctx.all<Compressor>('compressor').map(({ id, instance }) => [id, instance]));
}
