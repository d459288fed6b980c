// Loads the TOML config (--config / EDGEBUILD_CONFIG / <root>/edgebuild.toml / /etc/edgebuild/…);
// built-in defaults when there is no file. Any error names the file and the key.
import * as v from 'valibot';
import { existsSync, readFileSync } from 'node:fs';
import { EdgebuildConfigSchema, type EdgebuildConfig } from './schema.ts';
import { formatIssue } from './issues.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: EdgebuildConfig;
  path?: string;
  warnings: string[];
}

export const DEFAULT_CONFIG_PATHS = ['/etc/edgebuild/edgebuild.toml'];

export function parseConfigText(text: string, file: string): EdgebuildConfig {
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file}: invalid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const result = v.safeParse(EdgebuildConfigSchema, raw);
  if (!result.success) throw new ConfigError(`config ${file}: ${formatIssue(result.issues[0])}`);
  return result.output;
}

export function loadConfig(explicitPath?: string): LoadedConfig {
  const path = explicitPath ?? DEFAULT_CONFIG_PATHS.find((p) => existsSync(p));
  if (!path) return { config: v.parse(EdgebuildConfigSchema, {}), warnings: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`config ${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const warnings: string[] = [];
  return { config: parseConfigText(text, path), path, warnings };
}
