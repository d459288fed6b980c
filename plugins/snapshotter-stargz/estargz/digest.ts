// sha256 helpers producing OCI digest strings ("sha256:<hex>").

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
}

export class Sha256Stream {
  private readonly hasher = new Bun.CryptoHasher("sha256");
  length = 0;
  update(data: Uint8Array): void {
    this.hasher.update(data);
    this.length += data.length;
  }
  digest(): string {
    return `sha256:${this.hasher.digest("hex")}`;
  }
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
export function isSha256Digest(s: string): boolean {
  return DIGEST_RE.test(s);
}
