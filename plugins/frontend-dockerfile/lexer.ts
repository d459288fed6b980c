// Splits Dockerfile text into logical lines: comments dropped, line continuations joined (comment
// lines and empty lines inside a continuation are skipped, as BuildKit does), and heredoc bodies
// read on request. Line numbers are 1-based and kept for every logical line.

export interface LogicalLine {
  text: string;
  startLine: number;
  endLine: number;
  /** An empty line appeared inside the continuation (BuildKit warns about it). */
  emptyContinuation: boolean;
}

const isComment = (line: string) => /^[ \t]*#/.test(line);
const isBlank = (line: string) => /^[ \t]*$/.test(line);

export class DockerfileLexer {
  private readonly lines: string[];
  private idx = 0;
  private readonly continuation: RegExp;

  constructor(text: string, escape: string) {
    const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
    this.lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
    this.continuation = new RegExp(`${escape === '`' ? '`' : '\\\\'}[ \\t]*$`);
  }

  /** The physical lines (BOM and line endings removed). */
  get physicalLines(): readonly string[] {
    return this.lines;
  }

  /** Line number (1-based) of the last line consumed. */
  get line(): number {
    return this.idx;
  }

  private trimContinuation(line: string): { text: string; end: boolean } {
    const m = this.continuation.exec(line);
    if (!m) return { text: line, end: true };
    return { text: line.slice(0, m.index), end: false };
  }

  nextLogical(): LogicalLine | null {
    while (this.idx < this.lines.length) {
      const raw = this.lines[this.idx++];
      if (isComment(raw)) continue;
      const first = this.trimContinuation(raw.replace(/^[ \t]+/, ''));
      if (first.end && first.text.trim() === '') continue;
      const startLine = this.idx;
      let text = first.text;
      let end = first.end;
      let emptyContinuation = false;
      while (!end && this.idx < this.lines.length) {
        const next = this.lines[this.idx++];
        if (isComment(next)) continue;
        if (isBlank(next)) {
          emptyContinuation = true;
          continue;
        }
        const part = this.trimContinuation(next);
        text += part.text;
        end = part.end;
      }
      return { text: text.trim(), startLine, endLine: this.idx, emptyContinuation };
    }
    return null;
  }

  /** Reads a heredoc body up to its terminator line; null when the file ends first. */
  readHeredoc(name: string, chomp: boolean): string | null {
    let content = '';
    while (this.idx < this.lines.length) {
      const raw = this.lines[this.idx++];
      const candidate = chomp ? raw.replace(/^\t+/, '') : raw;
      if (candidate === name) return content;
      content += raw + '\n';
    }
    return null;
  }
}
