// Progress while images are prepared and runs go: a bar redrawn in place on a terminal, plain
// lines otherwise (logs, CI).
export interface BenchProgress {
  /** Sets the plan's size (steps to come). */
  plan(total: number): void;
  step(label: string): void;
  note(line: string): void;
  done(): void;
}

export function benchProgress(isTTY: boolean, write: (s: string) => void): BenchProgress {
  let total = 0;
  let done = 0;
  let current = '';
  const draw = () => {
    const width = 24;
    const filled = total ? Math.round((done / total) * width) : 0;
    write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${current}`);
  };
  return {
    plan(n) {
      total = n;
      done = 0;
    },
    step(label) {
      if (current) done++;
      current = label;
      if (isTTY) draw();
      else write(`bench: ${label}\n`);
    },
    note(line) {
      if (isTTY) write(`\r\x1b[2K${line}\n`), draw();
      else write(`bench: ${line}\n`);
    },
    done() {
      if (isTTY) write('\r\x1b[2K');
      current = '';
    },
  };
}
