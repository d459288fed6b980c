// One JSON object per event per line (`--progress rawjson`).
import type { ProgressSink } from './events.ts';

export const rawJsonRenderer = (write: (text: string) => void): ProgressSink => (e) => write(JSON.stringify(e) + '\n');
