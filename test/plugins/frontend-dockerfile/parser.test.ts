import { describe, expect, test } from 'bun:test';
import { parseDockerfile } from '../../../plugins/frontend-dockerfile/parser.ts';

const parse = (text: string) => parseDockerfile(text, 'Dockerfile');
const brief = (text: string) => parse(text).nodes.map((n) => [n.cmd, n.flags, n.rest, n.startLine, n.endLine]);

describe('parser directives', () => {
  test('syntax, escape and check at the top', () => {
    const df = parse('# syntax=docker/dockerfile:1\n#escape=`\n# check=skip=all\nFROM x\n');
    expect(df.directives).toMatchObject({ syntax: 'docker/dockerfile:1', escape: '`', check: 'skip=all' });
  });
  test('directives stop at a blank line, a comment or an unknown directive', () => {
    expect(parse('\n# escape=`\nFROM x').directives.escape).toBe('\\');
    expect(parse('# hello\n# escape=`\nFROM x').directives.escape).toBe('\\');
    expect(parse('# unknown=1\n# escape=`\nFROM x').directives.escape).toBe('\\');
    expect(parse('FROM x\n# escape=`').directives.escape).toBe('\\');
  });
  test('duplicate and invalid directives are errors with the line', () => {
    expect(() => parse('# escape=`\n# escape=\\\nFROM x')).toThrow('Dockerfile:2: only one escape parser directive can be used');
    expect(() => parse('# escape=x\nFROM x')).toThrow("Dockerfile:1: invalid escape token 'x'");
  });
  test('backtick escape: backslash continuations are text, backtick continues', () => {
    const df = parse('# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\nCOPY a\\ c:\\b\\\n');
    expect(df.nodes.map((n) => n.rest)).toEqual(['x', 'dir c:\\   && echo hi', 'a\\ c:\\b\\']);
    expect(df.nodes[1].startLine).toBe(3);
    expect(df.nodes[1].endLine).toBe(4);
  });
});

describe('lines', () => {
  test('comments, blank lines, indentation and CRLF', () => {
    expect(brief('# c\r\n\r\n  FROM  alpine AS b \r\n\t# indented comment\n  run echo hi\r\n')).toEqual([
      ['from', [], 'alpine AS b', 3, 3],
      ['run', [], 'echo hi', 5, 5],
    ]);
  });
  test('continuations with comment lines and empty lines inside', () => {
    const df = parse('FROM x\nRUN apt-get update \\\n# a comment\n    && apt-get install -y \\\n\n    curl\nUSER app');
    expect(df.nodes[1].rest).toBe('apt-get update     && apt-get install -y     curl');
    expect(df.nodes[1].startLine).toBe(2);
    expect(df.nodes[1].endLine).toBe(6);
    expect(df.nodes[2].startLine).toBe(7);
    expect(df.warnings).toEqual(['Dockerfile:2: empty continuation line (will become an error in a future Dockerfile syntax)']);
  });
  test('continuation with trailing whitespace after the backslash', () => {
    expect(parse('FROM x\nRUN a \\  \n b').nodes[1].rest).toBe('a  b');
  });
  test('a continuation at end of file ends the instruction', () => {
    expect(parse('FROM x\nRUN a \\').nodes[1].rest).toBe('a');
  });
  test('flags are split from arguments, quotes inside flags honoured', () => {
    const n = parse('FROM x\nCOPY --from=dev --chown="a b" --link src/ /dst').nodes[1];
    expect(n.flags).toEqual(['from=dev', 'chown=a b', 'link']);
    expect(n.rest).toBe('src/ /dst');
    const r = parse('FROM x\nRUN --mount=type=cache,target=/c -- --not-a-flag').nodes[1];
    expect(r.flags).toEqual(['mount=type=cache,target=/c']);
    expect(r.rest).toBe('--not-a-flag');
  });
  test('unknown instruction: file:line and the instruction', () => {
    expect(() => parse('FROM x\n\nFOO bar baz')).toThrow('Dockerfile:3: FOO bar baz: unknown instruction: FOO');
  });
  test('ONBUILD keeps its trigger; chaining and FROM triggers are refused', () => {
    const n = parse('FROM x\nONBUILD RUN echo hi').nodes[1];
    expect(n.trigger?.cmd).toBe('run');
    expect(n.trigger?.rest).toBe('echo hi');
    expect(() => parse('FROM x\nONBUILD ONBUILD RUN x')).toThrow('Dockerfile:2: ONBUILD ONBUILD RUN x: Chaining ONBUILD');
    expect(() => parse('FROM x\nONBUILD FROM y')).toThrow("FROM isn't allowed as an ONBUILD trigger");
  });
});

describe('heredocs', () => {
  test('RUN <<EOF body with line numbers', () => {
    const df = parse('FROM x\nRUN <<EOF\necho a\n  echo b\nEOF\nUSER u');
    const run = df.nodes[1];
    expect(run.heredocs).toEqual([{ name: 'EOF', content: 'echo a\n  echo b\n', expand: true, chomp: false }]);
    expect([run.startLine, run.endLine]).toEqual([2, 5]);
    expect(df.nodes[2]).toMatchObject({ cmd: 'user', startLine: 6 });
  });
  test('<<- allows a tab-indented terminator; quoted delimiters disable expansion', () => {
    const df = parse('FROM x\nRUN <<-"END" cat\n\tline\n\tEND\nCOPY <<\'A\' <<B /dst/\na\nA\nb\nB\n');
    expect(df.nodes[1].heredocs).toEqual([{ name: 'END', content: '\tline\n', expand: false, chomp: true }]);
    expect(df.nodes[2].heredocs.map((h) => [h.name, h.content, h.expand])).toEqual([['A', 'a\n', false], ['B', 'b\n', true]]);
  });
  test('several heredocs on one line are read in order', () => {
    const df = parse('FROM x\nRUN cat <<A && cat <<B\n1\nA\n2\nB\n');
    expect(df.nodes[1].heredocs.map((h) => h.content)).toEqual(['1\n', '2\n']);
    expect(df.nodes[1].endLine).toBe(6);
  });
  test('a partly quoted delimiter also disables expansion', () => {
    expect(parse('FROM x\nRUN <<E"O"F\nx\nEOF').nodes[1].heredocs[0]).toMatchObject({ name: 'EOF', expand: false });
  });
  test('heredocs only on RUN/COPY/ADD and not in JSON form', () => {
    const df = parse('FROM x\nLABEL a=<<EOF\nRUN ["cat", "<<EOF"]');
    expect(df.nodes.map((n) => n.heredocs.length)).toEqual([0, 0, 0]);
  });
  test('a heredoc-like word with an unbalanced quote is no heredoc', () => {
    expect(parse("FROM x\nCOPY a <<-EOF' /b").nodes[1].heredocs).toEqual([]);
  });
  test('unterminated heredoc names the instruction line', () => {
    expect(() => parse('FROM x\nRUN <<EOF\necho\n')).toThrow('Dockerfile:2: RUN <<EOF: unterminated heredoc <<EOF');
  });
});
