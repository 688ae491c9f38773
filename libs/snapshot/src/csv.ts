import { Parser, type CsvError } from 'csv-parse';

/**
 * A push-based CSV reader over `csv-parse` (RFC 4180: comma separator, '"' quoting, '""'
 * escapes, separators and line breaks inside quotes): text goes in in pieces of any size
 * (split anywhere, even inside a quoted field or between CR and LF), records come out
 * through `onRecord` as soon as they are complete. Set up for data files as people write
 * them: a UTF-8 BOM is dropped, LF, CRLF and a lone CR all end a record (mixed in one file
 * too), blank lines are skipped, records may have any number of fields (the caller decides
 * what a ragged record means), and a quote inside an unquoted field, or text after a
 * closing quote, is kept literally. A record the parser cannot read (a quote still open at
 * the end of the file) is dropped and reported through `onNote` with the line csv-parse
 * stopped at.
 */
export class CsvParser {
  private readonly parser: Parser;
  private held = '';
  records = 0;

  constructor(
    private readonly onRecord: (fields: string[]) => void,
    private readonly onNote: (note: string) => void = () => undefined,
  ) {
    this.parser = new Parser({
      bom: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (e: CsvError | undefined) => {
        if (e) this.onNote(`line ${String(e.lines)}: ${e.message}`);
      },
    });
    // Errors are skipped records (above); anything else would be a bug in the input handling.
    this.parser.on('error', (e: Error) => this.onNote(`the CSV parser stopped: ${e.message}`));
  }

  /** csv-parse's Transform parses synchronously on write, so its records are read back at once. */
  private drain(): void {
    for (let r = this.parser.read() as string[] | null; r !== null; r = this.parser.read() as string[] | null) {
      this.records++;
      this.onRecord(r);
    }
  }

  push(text: string): void {
    // csv-parse encodes each piece to UTF-8 on its own: a piece ending inside a surrogate
    // pair would turn both halves into U+FFFD, so a trailing high surrogate waits for the next.
    text = this.held + text;
    this.held = '';
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.held = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text === '') return;
    this.parser.write(text);
    this.drain();
  }

  finish(): void {
    if (this.held) this.parser.write(this.held);
    this.held = '';
    this.parser.end();
    this.drain();
  }
}

/** Parses a whole CSV text into records (for small inputs and tests). */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  const p = new CsvParser((r) => out.push(r));
  p.push(text);
  p.finish();
  return out;
}
