import { FilterSyntaxError } from '@cairn/schema';
import { AGGREGATES, ATTRIBUTES, type Aggregate, type Attribute, type FieldRef, type FilterExpr, type Literal } from './ast.ts';
import { describeToken, tokenize, type Keyword, type Token } from './lexer.ts';
import { normalizeLiteral, operationError, patternError, valueError, type Operation } from './validate.ts';

/**
 * A hand-written recursive-descent parser:
 *
 *   filter    := or EOF
 *   or        := and (OR and)*
 *   and       := unary (AND unary)*
 *   unary     := NOT unary | '(' or ')' | predicate
 *   predicate := field ( cmp value | [NOT] IN '(' value (',' value)* ')'
 *                      | [NOT] (LIKE | ILIKE) string | IS [NOT] NULL )
 *   cmp       := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   value     := number | string | TRUE | FALSE
 *
 * so NOT binds tighter than AND, and AND tighter than OR. Runs of the same
 * operator become one n-ary node; parentheses never make nodes of their own.
 */

/** Parentheses and NOTs nested deeper than this are refused, long before the stack would be at risk. */
export const MAX_DEPTH = 100;

/** Parses filter text; blank text means "no filter" and gives null. Throws FilterSyntaxError. */
export function parseFilter(text: string): FilterExpr | null {
  const parser = new Parser(text);
  if (parser.at('eof')) return null;
  const expr = parser.parseOr(0);
  parser.expectEnd();
  return expr;
}

const FIELD_PREFIXES: Record<string, FieldRef['kind']> = {
  params: 'param',
  param: 'param',
  metrics: 'metric',
  metric: 'metric',
  tags: 'tag',
  tag: 'tag',
  attributes: 'attribute',
  attribute: 'attribute',
  gate: 'gate',
};

const FIELD_HELP = `expected a field: params.<key>, metrics.<key>, tags.<key>, gate.<tier> or one of ${ATTRIBUTES.join(', ')}`;

/** Exported for order-by.ts, which reads a field with the same rules. */
export class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly input: string) {
    this.tokens = tokenize(input);
  }

  peek(): Token {
    return this.tokens[this.pos]!;
  }

  next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  at(kind: Token['kind']): boolean {
    return this.peek().kind === kind;
  }

  atKeyword(keyword: Keyword): boolean {
    const t = this.peek();
    return t.kind === 'keyword' && t.keyword === keyword;
  }

  atPunct(value: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.value === value;
  }

  describe(t: Token): string {
    return describeToken(t, this.input);
  }

  fail(detail: string, at: Token): never {
    throw new FilterSyntaxError(detail, at.start + 1, this.input);
  }

  expectEnd(): void {
    const t = this.peek();
    if (t.kind === 'eof') return;
    if (t.kind === 'punct' && t.value === ')') this.fail("unmatched ')'", t);
    this.fail(`expected AND, OR or the end of the filter but found ${this.describe(t)}`, t);
  }

  parseOr(depth: number): FilterExpr {
    const items = [this.parseAnd(depth)];
    while (this.atKeyword('OR')) {
      this.next();
      items.push(this.parseAnd(depth));
    }
    return items.length === 1 ? items[0]! : { type: 'or', items };
  }

  private parseAnd(depth: number): FilterExpr {
    const items = [this.parseUnary(depth)];
    while (this.atKeyword('AND')) {
      this.next();
      items.push(this.parseUnary(depth));
    }
    return items.length === 1 ? items[0]! : { type: 'and', items };
  }

  private parseUnary(depth: number): FilterExpr {
    const t = this.peek();
    const nests = this.atKeyword('NOT') || this.atPunct('(');
    if (nests && depth >= MAX_DEPTH) this.fail(`the filter nests too deeply (more than ${MAX_DEPTH} levels of NOT and parentheses)`, t);
    if (this.atKeyword('NOT')) {
      this.next();
      return { type: 'not', item: this.parseUnary(depth + 1) };
    }
    if (this.atPunct('(')) {
      this.next();
      const inner = this.parseOr(depth + 1);
      if (!this.atPunct(')')) this.fail(`expected ')' to close the '(' at column ${t.start + 1} but found ${this.describe(this.peek())}`, this.peek());
      this.next();
      return inner;
    }
    if (t.kind === 'path') return this.parsePredicate();
    this.fail(`expected a field, NOT or '(' but found ${this.describe(t)}`, t);
  }

  private parsePredicate(): FilterExpr {
    const fieldToken = this.peek();
    const field = this.parseField();
    const fieldText = this.input.slice(fieldToken.start, fieldToken.end);
    const opToken = this.next();
    const check = (op: Operation) => {
      const err = operationError(field, op);
      if (err) this.fail(err, opToken);
    };

    if (opToken.kind === 'punct' && !['(', ')', ','].includes(opToken.value)) {
      const op = opToken.value === '<>' ? '!=' : (opToken.value as Exclude<typeof opToken.value, '<>' | '(' | ')' | ','>);
      check(op);
      const value = this.parseValue(field, `'${opToken.value}'`);
      return { type: 'compare', field, op, value };
    }

    if (opToken.kind === 'keyword' && opToken.keyword === 'IS') {
      check('isNull');
      const negated = this.atKeyword('NOT');
      if (negated) this.next();
      if (!this.atKeyword('NULL')) this.fail(`expected ${negated ? 'NULL' : 'NULL or NOT NULL'} after IS but found ${this.describe(this.peek())}`, this.peek());
      this.next();
      return { type: 'isNull', field, negated };
    }

    let negated = false;
    let keywordToken = opToken;
    if (opToken.kind === 'keyword' && opToken.keyword === 'NOT') {
      negated = true;
      keywordToken = this.next();
      const isOp = keywordToken.kind === 'keyword' && ['IN', 'LIKE', 'ILIKE'].includes(keywordToken.keyword);
      if (!isOp) this.fail(`expected IN, LIKE or ILIKE after NOT but found ${this.describe(keywordToken)}`, keywordToken);
    }
    if (keywordToken.kind === 'keyword' && keywordToken.keyword === 'IN') {
      check('in');
      if (!this.atPunct('(')) this.fail(`expected '(' after IN but found ${this.describe(this.peek())}`, this.peek());
      this.next();
      const values = [this.parseValue(field, "'('")];
      while (this.atPunct(',')) {
        this.next();
        values.push(this.parseValue(field, "','"));
      }
      if (!this.atPunct(')')) this.fail(`expected ',' or ')' in the IN list but found ${this.describe(this.peek())}`, this.peek());
      this.next();
      return { type: 'in', field, values, negated };
    }
    if (keywordToken.kind === 'keyword' && (keywordToken.keyword === 'LIKE' || keywordToken.keyword === 'ILIKE')) {
      check('like');
      const t = this.next();
      if (t.kind !== 'string') this.fail(`expected a quoted pattern after ${keywordToken.keyword} but found ${this.describe(t)}`, t);
      const err = patternError(t.value);
      if (err) this.fail(err, t);
      return { type: 'like', field, pattern: t.value, caseInsensitive: keywordToken.keyword === 'ILIKE', negated };
    }
    this.fail(`expected an operator (=, !=, <, <=, >, >=, IN, LIKE, ILIKE, IS) after '${fieldText}' but found ${this.describe(opToken)}`, opToken);
  }

  private parseValue(field: FieldRef, after: string): Literal {
    const t = this.next();
    let raw: Literal;
    if (t.kind === 'number' || t.kind === 'string') raw = t.value;
    else if (t.kind === 'keyword' && (t.keyword === 'TRUE' || t.keyword === 'FALSE')) raw = t.keyword.toLowerCase();
    else if (t.kind === 'keyword' && t.keyword === 'NULL') this.fail('use IS NULL or IS NOT NULL to test for a missing value', t);
    else this.fail(`expected a value after ${after} but found ${this.describe(t)}`, t);
    const value = normalizeLiteral(field, raw);
    const err = valueError(field, value);
    if (err) this.fail(err, t);
    return value;
  }

  /** Reads one path token as a field (the field syntax is described in index.ts). */
  parseField(): FieldRef {
    const t = this.next();
    if (t.kind !== 'path') this.fail(`${FIELD_HELP}; found ${this.describe(t)}`, t);
    const [first, ...rest] = t.pieces;
    if (!first || first.quoted) this.fail(FIELD_HELP, t);
    const dot = first.text.indexOf('.');
    if (dot < 0) {
      // A bare word is an attribute.
      if (rest.length > 0) this.fail(FIELD_HELP, t);
      return { kind: 'attribute', name: this.attribute(first.text, t) };
    }
    const kind = FIELD_PREFIXES[first.text.slice(0, dot).toLowerCase()];
    if (!kind) this.fail(`unknown field '${first.text.slice(0, dot)}'; ${FIELD_HELP}`, t);
    const afterPrefix = first.text.slice(dot + 1);

    let key: string;
    let agg: Aggregate | null = null;
    if (rest.length === 0) {
      // Bare key: everything after the prefix. For metrics a trailing .min/.max/.last/.count is the aggregate.
      key = afterPrefix;
      if (kind === 'metric') {
        const lastDot = key.lastIndexOf('.');
        const suffix = key.slice(lastDot + 1);
        if (lastDot >= 0 && (AGGREGATES as readonly string[]).includes(suffix)) {
          key = key.slice(0, lastDot);
          agg = suffix as Aggregate;
        }
      }
    } else {
      // Quoted key: `prefix.` `key` and, for metrics only, an optional `.aggregate`.
      if (afterPrefix !== '') this.fail('quote the whole key in backticks, e.g. params.`my key`', t);
      key = rest[0]!.text;
      const tail = rest[1];
      if (tail) {
        const suffix = tail.text.slice(1);
        if (rest.length > 2 || tail.quoted || !tail.text.startsWith('.')) this.fail(`unexpected text after the quoted key in '${this.input.slice(t.start, t.end)}'`, t);
        if (kind !== 'metric') this.fail(`unexpected '${tail.text}' after the quoted key; only metrics take an aggregate`, t);
        if (!(AGGREGATES as readonly string[]).includes(suffix)) this.fail(`unknown aggregate '${suffix}' (expected ${AGGREGATES.join(', ')})`, t);
        agg = suffix as Aggregate;
      }
    }
    if (key === '') this.fail(`expected a key after '${first.text.slice(0, dot + 1)}'`, t);
    switch (kind) {
      case 'param':
      case 'tag':
        return { kind, key };
      case 'metric':
        return { kind, key, agg: agg ?? 'last' };
      case 'attribute':
        return { kind, name: this.attribute(key, t) };
      case 'gate':
        return { kind, tier: key };
    }
  }

  private attribute(name: string, t: Token): Attribute {
    const lower = name.toLowerCase();
    if (!(ATTRIBUTES as readonly string[]).includes(lower)) this.fail(`unknown field '${name}'; ${FIELD_HELP}`, t);
    return lower as Attribute;
  }
}
