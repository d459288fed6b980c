// The tar entry shape shared by the layer reader and writer (ustar + PAX, as OCI layers use).

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** Path as in the archive (PAX path / GNU longname applied), without a trailing slash. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional when PAX gave it). */
  mtime: number;
  /** Target of a symlink or hardlink. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX SCHILY.xattr.* records: raw values. */
  xattrs: Record<string, Uint8Array>;
}

export const BLOCK = 512;

export const TYPE_FLAGS: Record<TarEntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

export const OCI_WHITEOUT_PREFIX = '.wh.';
export const OCI_OPAQUE = '.wh..wh..opq';

export const padding = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;
