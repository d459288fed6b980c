// A registry blob as one stream that survives broken connections: when the body fails mid-way
// with a network error it is reopened from the bytes already delivered (a Range request), a few
// times. Opening itself is not retried here (the registry client retries that within its deadline).
import { isNetworkError } from '../content/store.ts';

export type RangeOpener = (offset: number) => Promise<ReadableStream<Uint8Array>>;

/** `first` is the already opened body from offset 0 (so opening errors surface at once). */
export function resumableBlob(first: ReadableStream<Uint8Array>, open: RangeOpener, resumes = 3): ReadableStream<Uint8Array> {
  let offset = 0;
  let left = resumes;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined = first.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      for (;;) {
        reader ??= (await open(offset)).getReader();
        try {
          const { value, done } = await reader.read();
          if (done) return ctl.close();
          offset += value.length;
          return ctl.enqueue(value);
        } catch (e) {
          if (!isNetworkError(e) || left-- <= 0) throw e;
          reader.releaseLock();
          reader = undefined;
        }
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
}
