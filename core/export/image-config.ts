// The image config an exporter writes: the solver's config with rootfs.diff_ids from the layers and
// timestamps clamped to SOURCE_DATE_EPOCH so rebuilds give the same digest.

/** RFC 3339 as Go writes it (no fractional part when it is zero), e.g. 2024-01-02T03:04:05Z. */
export function epochToRfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function clamp(created: unknown, epoch: number): unknown {
  if (typeof created !== 'string') return created;
  const t = Date.parse(created);
  return Number.isNaN(t) || t / 1000 > epoch ? epochToRfc3339(epoch) : created;
}

export function finalImageConfig(config: Record<string, unknown>, diffIDs: string[], sourceDateEpoch?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config, rootfs: { type: 'layers', diff_ids: diffIDs } };
  if (sourceDateEpoch !== undefined) {
    // BuildKit sets the image's own creation time to the epoch and clamps each history entry.
    out.created = epochToRfc3339(sourceDateEpoch);
    if (Array.isArray(config.history)) {
      out.history = config.history.map((h) =>
        h && typeof h === 'object' && 'created' in h ? { ...h, created: clamp((h as { created: unknown }).created, sourceDateEpoch) } : h,
      );
    }
  }
  return out;
}
