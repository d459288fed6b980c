// What bench times, as in HelloBench: an image and the work done on it. Build workloads are
// Dockerfiles; each RUN prints a marker to stderr first, so the run phase starts when the
// workload's process is up (container created, rootfs mounted) and ends when it exits.
import type { BaseImageName } from './images/layout.ts';

export const RUN_MARKER = 'edgebuild-bench-run';

export interface Workload {
  name: string;
  image: BaseImageName;
  /** Context files (also placed at / for the recording on a local copy). */
  files: Record<string, string>;
  /** Shell command of the RUN step; the same command is recorded on a local copy. */
  command: string;
  dockerfile(base: string): string;
  /** Exported like the reference example (type=local) when set. */
  exportsLocal?: boolean;
}

const run = (cmd: string) => `RUN echo ${RUN_MARKER} >&2 && ${cmd}`;

const HELLO_GO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n';
const HELLO_C = '#include <stdio.h>\n\nint main(void) {\n\tputs("Hello, world!");\n\treturn 0;\n}\n';
const HELLO_JAVA = 'public class Hello {\n\tpublic static void main(String[] args) {\n\t\tSystem.out.println("Hello, world!");\n\t}\n}\n';

const GO_CMD = 'go build -o /hello /hello.go';
const PY_CMD = `python3 -c 'print("hello")'`;
const GCC_CMD = 'gcc -o /hello /hello.c && /hello';
const JDK_CMD = 'cd / && javac Hello.java && java -cp / Hello';

export const WORKLOADS: Workload[] = [
  {
    // The reference example of buildkit-stargz-lazy-pull.md, verbatim apart from the marker.
    name: 'golang',
    image: 'golang',
    files: { 'hello.go': HELLO_GO },
    command: GO_CMD,
    exportsLocal: true,
    dockerfile: (base) => `FROM ${base} AS dev\nCOPY ./hello.go /hello.go\n${run(GO_CMD)}\nFROM scratch\nCOPY --from=dev /hello /\n`,
  },
  {
    name: 'python',
    image: 'python',
    files: {},
    command: PY_CMD,
    dockerfile: (base) => `FROM ${base}\n${run(PY_CMD)}\n`,
  },
  {
    name: 'gcc',
    image: 'gcc',
    files: { 'hello.c': HELLO_C },
    command: GCC_CMD,
    dockerfile: (base) => `FROM ${base}\nCOPY ./hello.c /hello.c\n${run(GCC_CMD)}\n`,
  },
  {
    name: 'jdk',
    image: 'jdk',
    files: { 'Hello.java': HELLO_JAVA },
    command: JDK_CMD,
    dockerfile: (base) => `FROM ${base}\nCOPY ./Hello.java /Hello.java\n${run(JDK_CMD)}\n`,
  },
];

export function findWorkload(name: string): Workload {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) throw new Error(`unknown workload ${JSON.stringify(name)} (known: ${WORKLOADS.map((x) => x.name).join(', ')})`);
  return w;
}
