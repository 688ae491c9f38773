import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvParser, parseCsv } from './csv.ts';

describe('parseCsv', () => {
  it('handles quotes, escaped quotes, separators and line breaks inside quotes, CRLF', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\r\n2,"line1\r\nline2",\r\n\r\n3,,"" \n4';
    expect(parseCsv(text)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', 'line1\r\nline2', ''],
      // After a closing quote, csv-parse keeps the field's text as written (was: ' ').
      ['3', '', '"" '],
      ['4'],
    ]);
  });

  it('treats LF, CRLF and lone CR alike and skips blank lines', () => {
    expect(parseCsv('a\nb\r\nc\rd\n\n\r\n')).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv(',')).toEqual([['', '']]);
    expect(parseCsv('""')).toEqual([['']]);
  });

  // Changed with the move to csv-parse: a stray quote is kept as written (was: '"c"d' read
  // as 'cd'), a quote still open at the end of the file drops that record with a note
  // (was: the record kept), and only that is noted (was: one note per leniency).
  it('is lenient about stray quotes and notes what it drops, with its line', () => {
    const notes: string[] = [];
    const out: string[][] = [];
    const p = new CsvParser((r) => out.push(r), (x) => notes.push(x));
    p.push('a"b,"c"d,e\n"open');
    p.finish();
    expect(out).toEqual([['a"b', '"c"d', 'e']]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^line 2: .*Quote Not Closed/);
  });

  it('gives the same records however the text is split (property)', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\r', '\n', ' ', 'é', '😀'), maxLength: 6 });
    const records = fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { maxLength: 6 });
    fc.assert(
      fc.property(records, fc.boolean(), fc.array(fc.nat(), { maxLength: 5 }), (recs, crlf, cuts) => {
        const eol = crlf ? '\r\n' : '\n';
        const text = recs.map((r) => r.map((f) => `"${f.replaceAll('"', '""')}"`).join(',')).join(eol);
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
        const out: string[][] = [];
        const p = new CsvParser((r) => out.push(r));
        let prev = 0;
        for (const c of points) {
          p.push(text.slice(prev, c));
          prev = c;
        }
        p.push(text.slice(prev));
        p.finish();
        expect(out).toEqual(recs);
      }),
    );
  });
});

describe('CSV odd cases', () => {
  it('keeps a character whose surrogate pair is split between two pieces', () => {
    const out: string[][] = [];
    const p = new CsvParser((r) => out.push(r));
    p.push('a,\uD83D');
    p.push('\uDE00b\n');
    p.finish();
    expect(out).toEqual([['a', '\u{1F600}b']]);
  });

  it('drops a UTF-8 BOM', () => {
    expect(parseCsv('\uFEFFa,b\r\n1,2')).toEqual([['a', 'b'], ['1', '2']]);
  });

  it('reads CRLF, and LF and CR mixed in one file', () => {
    expect(parseCsv('a,b\r\n1,2\r\n')).toEqual([['a', 'b'], ['1', '2']]);
    expect(parseCsv('a\r\nb\nc\rd')).toEqual([['a'], ['b'], ['c'], ['d']]);
  });

  it('keeps separators, quotes and line breaks inside quoted fields', () => {
    expect(parseCsv('"a,b","say ""x""","l1\nl2","l3\r\nl4"\n')).toEqual([['a,b', 'say "x"', 'l1\nl2', 'l3\r\nl4']]);
  });

  it('gives ragged records as they are (the profile counts the long ones)', () => {
    expect(parseCsv('a,b,c\n1,2\n1,2,3,4')).toEqual([['a', 'b', 'c'], ['1', '2'], ['1', '2', '3', '4']]);
  });

  it('reports an unclosed quote with the line parsing stopped at, and keeps the records before it', () => {
    const notes: string[] = [];
    const out: string[][] = [];
    const p = new CsvParser((r) => out.push(r), (x) => notes.push(x));
    for (const piece of ['a,b\n1,2\n3,"no', ' end\n4,5\n']) p.push(piece);
    p.finish();
    expect(out).toEqual([['a', 'b'], ['1', '2']]);
    expect(notes).toEqual(['line 4: Quote Not Closed: the parsing is finished with an opening quote at line 4']);
    expect(p.records).toBe(2);
  });
});
