// Every built-in plugin registration, compiled into the binary. Config enables and configures them.
import type { PluginRegistration } from '../core/plugin/types.ts';

export const builtinPlugins: PluginRegistration<any, any>[] = [];
