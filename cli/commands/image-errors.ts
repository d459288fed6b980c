// Maps failures of image commands to one-line UserErrors (messages already name ref/host/digest).
import { UserError } from '../command.ts';
import { withContext } from '../../core/image/errors.ts';

const KNOWN = new Set(['RegistryError', 'ReferenceError', 'PlatformError', 'ImageFormatError', 'ContentError', 'DigestError', 'OciLayoutError', 'TransportError']);

/** `prefix` is the operation ("pull x:1"); `subject` the ref as errors below name it. */
export function toUserError(e: unknown, prefix: string, subject?: string): unknown {
  if (e instanceof UserError) return e;
  const err = e as Error;
  if (err && KNOWN.has(err.name)) {
    const line = withContext(err, prefix, subject).message.split('\n')[0];
    return new UserError(line);
  }
  return e;
}
