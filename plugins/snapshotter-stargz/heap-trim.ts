// Garbage ArrayBuffers of the lazy-pull threads go back to the OS when they pile up.
//
// The fetch thread and the decoder threads handle megabytes of short-lived ArrayBuffers (range
// bodies, compressed spans transferred to a decoder) but allocate few JS objects, so JSC seldom
// collects on its own and the dead buffers stay resident: measured in the lazy Go reference build,
// ~12 MB in one decoder, up to ~20 MB in the fetch thread, most of it garbage. A full collection
// frees them at once (Bun.gc(true): ~2 ms in a decoder, ~5 ms in the fetch thread; Bun.gc(false)
// frees none), so each of these threads asks for one when its heap has grown by a few MB, or once
// a burst of work is over.
import { heapSize } from "bun:jsc";

/**
 * A check to call often (it looks at the heap at most every `periodMs`): collects once this
 * thread's heap (ArrayBuffers included) grew by `growthBytes` since the last collection. For a
 * thread whose event loop may not turn (the FUSE reader thread blocks in read(2)).
 */
export function growthCheck(growthBytes: number, periodMs: number): () => void {
  let base = heapSize();
  let last = 0;
  return () => {
    const t = Date.now();
    if (t - last < periodMs) return;
    last = t;
    const now = heapSize();
    if (now - base < growthBytes) {
      base = Math.min(base, now);
      return;
    }
    Bun.gc(true);
    base = heapSize();
  };
}

/** growthCheck on a timer. Returns a stop function. */
export function trimOnGrowth(growthBytes: number, periodMs: number): () => void {
  const check = growthCheck(growthBytes, 0);
  const timer = setInterval(check, periodMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * For a thread that works in bursts: call `busy()` after each piece of work; once none came for
 * `idleMs`, `release()` runs (drop buffers kept for reuse) and the thread collects.
 */
export function trimWhenIdle(idleMs: number, release: () => void = () => {}): { busy(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = () => {
    timer = undefined;
    release();
    Bun.gc(true);
  };
  return {
    busy() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(idle, idleMs);
      timer.unref?.();
    },
  };
}
