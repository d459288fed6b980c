// The oci and docker exporters: build the image, then write its files as a tarball (a path or
// stdout) or, for oci with tar=false, as a layout directory. Temp blobs are removed either way.
import type { Writable } from 'node:stream';
import type { Compressor, ExportInput, ExportProgress, ExportResult } from './types.ts';
import { parseImageAttrs } from './image-attrs.ts';
import { buildImage, type BuiltImage } from './image-builder.ts';
import { writeArchiveDir, writeArchiveTar, type ArchiveFile } from './archive.ts';
import { writeAtomically } from './atomic.ts';
import { writeToDestination } from './destination.ts';
import { requiredAttr } from './attrs.ts';
import { imageNames } from './oci-layout.ts';

export interface ArchiveDeps {
  compressors: () => Map<string, Compressor>;
  tmpDir: string;
  stdout?: Writable;
}

export interface ArchiveRequest {
  exporter: string;
  input: ExportInput;
  attrs: Record<string, string>;
  ociDefault: boolean;
  /** Write a layout directory instead of a tarball. */
  asDirectory: boolean;
  files: (img: BuiltImage, names: string[]) => ArchiveFile[];
}

export async function exportImageArchive(req: ArchiveRequest, deps: ArchiveDeps, progress: ExportProgress, signal?: AbortSignal): Promise<ExportResult> {
  const { exporter, input, attrs } = req;
  const dest = requiredAttr(exporter, attrs, 'dest');
  if (req.asDirectory && dest === '-') throw new Error(`exporter ${exporter}: tar=false needs dest=DIR, not -`);
  const names = imageNames(attrs.name);
  const image = parseImageAttrs(exporter, attrs, { oci: req.ociDefault });
  const img = await buildImage(input, { ...image, exporter, tmpDir: deps.tmpDir, compressors: deps.compressors() }, progress, signal);
  try {
    const files = req.files(img, names);
    const mtime = new Date((input.sourceDateEpoch ?? 0) * 1000);
    progress.log(`writing ${exporter} ${req.asDirectory ? 'layout' : 'archive'} to ${dest === '-' ? 'stdout' : dest}`);
    if (req.asDirectory) await writeAtomically(dest, (tmp) => writeArchiveDir(files, tmp));
    else await writeToDestination(exporter, dest, deps.stdout ?? process.stdout, (out) => writeArchiveTar(files, out, mtime));
    return { digest: img.manifest.descriptor.digest, notes: [...img.notes, `manifest ${img.manifest.descriptor.digest}`] };
  } finally {
    await img.dispose();
  }
}
