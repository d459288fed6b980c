// FROM [--platform=…] image|stage|scratch [AS name]: parsed here; the stage starts in stages.ts.
import type { Node } from '../parser.ts';
import { nodeError } from '../parser.ts';
import { parseFlags } from '../flags.ts';
import { whitespaceWords } from './syntax.ts';

export interface FromCommand {
  image: string; // unexpanded
  stageName?: string; // lower-cased `AS` name
  platform?: string; // unexpanded
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(node: Node): FromCommand {
  const flags = parseFlags(node, { platform: 'string' });
  const words = whitespaceWords(node.rest);
  if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === 'as')) {
    throw nodeError(node, 'FROM requires either one or three arguments (FROM image [AS name])');
  }
  const out: FromCommand = { image: words[0], platform: flags.string('platform') };
  if (words.length === 3) {
    const name = words[2].toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw nodeError(node, `invalid name for build stage: ${JSON.stringify(words[2])}, name can't start with a number or contain symbols`);
    }
    out.stageName = name;
  }
  return out;
}
