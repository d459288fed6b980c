// Every built-in plugin registration, compiled into the binary. Config enables and configures them.
import type { PluginRegistration } from '../core/plugin/types.ts';
import { dockerConfigAuth } from './auth-docker-config/index.ts';
import { gzipPlugin } from './compressor-gzip/index.ts';
import { uncompressedPlugin } from './compressor-uncompressed/index.ts';
import { zstdPlugin } from './compressor-zstd/index.ts';
import { estargzPlugin, zstdchunkedPlugin } from './compressor-estargz/index.ts';
import { runcExecutor } from './executor-runc/index.ts';
import { dockerExporterPlugin } from './exporter-docker/index.ts';
import { imageExporterPlugin, registryExporterPlugin } from './exporter-image/index.ts';
import { localExporterPlugin } from './exporter-local/index.ts';
import { ociExporterPlugin } from './exporter-oci/index.ts';
import { tarExporterPlugin } from './exporter-tar/index.ts';
import { dockerfileFrontendPlugin } from './frontend-dockerfile/index.ts';
import { nativeSnapshotter } from './snapshotter-native/index.ts';
import { overlaySnapshotter } from './snapshotter-overlay/index.ts';
import { stargzSnapshotter } from './snapshotter-stargz/index.ts';

export const builtinPlugins: PluginRegistration<any, any>[] = [
  dockerConfigAuth,
  gzipPlugin,
  zstdPlugin,
  estargzPlugin,
  zstdchunkedPlugin,
  uncompressedPlugin,
  dockerfileFrontendPlugin,
  overlaySnapshotter,
  nativeSnapshotter,
  stargzSnapshotter,
  runcExecutor,
  localExporterPlugin,
  tarExporterPlugin,
  ociExporterPlugin,
  dockerExporterPlugin,
  imageExporterPlugin,
  registryExporterPlugin,
];
