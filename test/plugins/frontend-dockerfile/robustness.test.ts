// Malformed input of every kind must end in a FrontendError (file:line), never a crash: random
// token soups from a seeded generator, run through the whole frontend.
import { describe, expect, test } from 'bun:test';
import { FrontendError } from '../../../core/frontend/types.ts';
import { dockerfileFrontend, dockerfileFrontendPlugin, parseDockerfile } from '../../../plugins/frontend-dockerfile/index.ts';
import { request } from './helpers.ts';

const TOKENS = [
  'FROM', 'base', 'scratch', 'AS', 'a', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'WORKDIR', 'USER', 'EXPOSE', 'VOLUME',
  'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'ONBUILD', 'STOPSIGNAL', 'MAINTAINER', '--from=a', '--mount=type=cache,target=/c',
  '--chmod=0755', '--link', '--platform=linux/arm64', '$X', '${X:-y}', '${', '"', "'", '\\', '`', '<<EOF', 'EOF', '[', ']', '"a",',
  '=', 'k=v', '/', '.', '*', '80/tcp', '#', '\n', '\n', '\n', ' ', ' ', '\t', '0', 'https://example.com/x', 'NONE', 'x',
];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('robustness', () => {
  test('random token soups fail only with FrontendError', async () => {
    const rand = rng(20261128);
    let failures = 0;
    for (let i = 0; i < 1500; i++) {
      const n = 1 + Math.floor(rand() * 30);
      let text = 'FROM base\n';
      for (let j = 0; j < n; j++) text += TOKENS[Math.floor(rand() * TOKENS.length)] + (rand() < 0.5 ? ' ' : '');
      try {
        await dockerfileFrontend.solve(request(text, { images: { base: { config: {} } }, context: {} }));
      } catch (e) {
        failures++;
        if (!(e instanceof FrontendError)) throw new Error(`non-FrontendError for ${JSON.stringify(text)}: ${(e as Error).stack}`);
        expect((e as Error).message).toMatch(/^Dockerfile(:\d+)?: /);
        expect((e as Error).message).not.toContain('\n');
      }
    }
    expect(failures).toBeGreaterThan(100); // the generator does produce bad input
  });

  test('the parser is exported for fuzzing and keeps line numbers', () => {
    const df = parseDockerfile('FROM a\n\nRUN b \\\n c\n');
    expect(df.nodes.map((n) => [n.cmd, n.startLine, n.endLine])).toEqual([['from', 1, 1], ['run', 3, 4]]);
  });

  test('plugin registration', async () => {
    expect(dockerfileFrontendPlugin).toMatchObject({ kind: 'frontend', id: 'dockerfile.v0' });
    const instance = await dockerfileFrontendPlugin.init({} as never);
    expect(instance).toBe(dockerfileFrontend);
  });
});
