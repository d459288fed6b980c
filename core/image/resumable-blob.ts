// A registry blob as one stream that survives broken connections: when the body fails mid-way
// with a network error it is reopened from the bytes already delivered (a Range request), a few
// times. Opening itself is not retried here (the registry client retries that within its deadline).
import { isNetworkError } from '../content/store.ts';

export type RangeOpener = (offset: number) => Promise<ReadableStream<Uint8Array>>;

/** `first` is the already opened body from offset 0 (so opening errors surface at once). */
export function resumableBlob(first: ReadableStream<Uint8Array>, open: RangeOpener, resumes = 3): ReadableStream<Uint8Array> {
  let offset = 0;
  let left = resumes;
  let current: ReadableStream<Uint8Array> | undefined = first;
  let iterator: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      for (;;) {
        current ??= await open(offset);
        iterator ??= (current as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
        try {
          const { value, done } = await iterator.next();
          if (done) return ctl.close();
          offset += value.length;
          return ctl.enqueue(value);
        } catch (e) {
          if (!isNetworkError(e) || left-- <= 0) throw e;
          current = iterator = undefined;
        }
      }
    },
    async cancel(reason) {
      await iterator?.return?.();
      await current?.cancel(reason).catch(() => {});
    },
  });
}
