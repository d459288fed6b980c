// The exporter and compressor registrations work through the plugin host: exporters find the
// compressors by id at export time.
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { PluginHost } from '../../../core/plugin/host.ts';
import { parseConfigText } from '../../../core/config/load.ts';
import type { Exporter } from '../../../core/export/types.ts';
import { gzipPlugin } from '../../../plugins/compressor-gzip/index.ts';
import { zstdPlugin } from '../../../plugins/compressor-zstd/index.ts';
import { uncompressedPlugin } from '../../../plugins/compressor-uncompressed/index.ts';
import { ociExporterPlugin } from '../../../plugins/exporter-oci/index.ts';
import { dockerExporterPlugin } from '../../../plugins/exporter-docker/index.ts';
import { localExporterPlugin } from '../../../plugins/exporter-local/index.ts';
import { tarExporterPlugin } from '../../../plugins/exporter-tar/index.ts';
import { imageExporterPlugin, registryExporterPlugin } from '../../../plugins/exporter-image/index.ts';
import { makeFixture, quiet, removeTemps, tmp } from '../../core/export/fixture.ts';

afterAll(removeTemps);

describe('exporter and compressor registrations', () => {
  test('all initialise in the host; a disabled compressor is not offered', async () => {
    const root = tmp('host');
    const toml = '[plugins."compressor.zstd"]\nenabled = false\n[plugins."compressor.gzip"]\ncompression-level = 1\n';
    const host = new PluginHost({ root, config: parseConfigText(toml, '/etc/eb.toml'), configPath: '/etc/eb.toml' });
    for (const r of [imageExporterPlugin, registryExporterPlugin, ociExporterPlugin, dockerExporterPlugin, localExporterPlugin, tarExporterPlugin, gzipPlugin, zstdPlugin, uncompressedPlugin]) host.register(r);
    await host.init();
    const states = Object.fromEntries(host.list().map((s) => [s.key, s.status]));
    expect(states).toEqual({
      'compressor.gzip': 'ok',
      'compressor.uncompressed': 'ok',
      'compressor.zstd': 'disabled',
      'exporter.docker': 'ok',
      'exporter.image': 'ok',
      'exporter.local': 'ok',
      'exporter.oci': 'ok',
      'exporter.registry': 'ok',
      'exporter.tar': 'ok',
    });
    const oci = host.get<Exporter>('exporter.oci');
    const fx = await makeFixture();
    const res = await oci.export(fx.input, { dest: join(root, 'a.tar') }, quiet);
    expect(res.digest).toMatch(/^sha256:/);
    await expect(oci.export(fx.input, { dest: join(root, 'b.tar'), compression: 'zstd' }, quiet)).rejects.toThrow(
      'exporter oci: compression "zstd" is not available (compressors: gzip, uncompressed)',
    );
    const img = await host.get<Exporter>('exporter.image').export(fx.input, { name: 'reg.example/app:1' }, quiet);
    expect(img.digest).toBe(res.digest);
  });
});
