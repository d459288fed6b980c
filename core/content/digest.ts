// sha256 digests: validation and hashing. The store only holds sha256 content.
export const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

export class DigestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DigestError';
  }
}

/** Returns the hex part of a sha256 digest, or throws naming the bad digest. */
export function sha256Hex(digest: string): string {
  if (!SHA256_RE.test(digest)) {
    const algo = digest.includes(':') ? digest.split(':')[0] : '';
    throw new DigestError(algo && algo !== 'sha256' ? `unsupported digest algorithm ${algo} in ${digest}` : `invalid digest ${JSON.stringify(digest)}`);
  }
  return digest.slice(7);
}

export function digestOf(bytes: Uint8Array | string): string {
  const h = new Bun.CryptoHasher('sha256');
  h.update(bytes);
  return `sha256:${h.digest('hex')}`;
}

/** Short form for messages and progress lines: "sha256:0123456789ab". */
export const shortDigest = (d: string): string => d.slice(0, 19);
