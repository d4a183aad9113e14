// A tiny tokenizer for WireGuard-style INI files.
//
// Hand-written rather than taken from npm on purpose: the INI libraries there
// (ini, js-ini, ...) return plain nested objects and drop line numbers, and
// they silently merge duplicate sections and keys. The config contract
// promises `FILE:LINE: Key: what is wrong` for every error, duplicates
// included, so we need every entry with the line it came from. The syntax is
// small enough that this is less code than adapting a library would be.
//
// This layer knows only syntax: sections, `key = value` entries and comments.
// What the keys mean, and which ones are allowed, is config.ts's business.

/** One `key = value` line. `key` is as written (case kept); `value` is trimmed. */
export interface IniEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/** A `[Name]` section and the entries under it, in file order. */
export interface IniSection {
  /** As written between the brackets, trimmed (case kept). */
  readonly name: string;
  /** Line of the `[Name]` header (1-based). */
  readonly line: number;
  readonly entries: IniEntry[];
}

export interface IniDocument {
  /** In file order; a repeated section name appears twice (the caller decides). */
  readonly sections: IniSection[];
  /** Number of the last line (at least 1, even for empty text). */
  readonly lastLine: number;
}

/**
 * A line that is not a section header, an entry or a comment. `key` is the
 * key as written when the line had one; it is raw user text, so the caller
 * must decide whether it is safe to show (it could be a pasted secret).
 */
export class IniSyntaxError extends Error {
  override readonly name = 'IniSyntaxError';
  constructor(
    readonly line: number,
    readonly key: string | undefined,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

/**
 * Where a comment starts: `#` or `;` at the start of the line or after
 * whitespace. Requiring whitespace before a trailing comment keeps values
 * such as `a#b` intact, as wg-quick users expect.
 */
const COMMENT = /(?:^|\s)[#;]/;
/** In a shell command only "#" starts a comment, as wg-quick reads its hooks: "a ; b" is two commands, not one and a comment. */
const SHELL_COMMENT = /\s#/;

export interface TokenizeOptions {
  /** Keys (lower case) whose values are shell commands: there ";" is kept (SHELL_COMMENT). */
  shellKeys?: ReadonlySet<string>;
}

/** Where the comment of `raw` starts, or -1. */
function commentStart(raw: string, shellKeys: ReadonlySet<string> | undefined): number {
  const comment = COMMENT.exec(raw);
  if (!comment) return -1;
  const eq = raw.indexOf('=');
  if (shellKeys && eq >= 0 && comment.index > eq && shellKeys.has(raw.slice(0, eq).trim().toLowerCase())) {
    const shell = SHELL_COMMENT.exec(raw.slice(eq));
    return shell ? eq + shell.index : -1;
  }
  return comment.index;
}

export function tokenizeIni(text: string, options: TokenizeOptions = {}): IniDocument {
  // A UTF-8 BOM from some Windows editors would otherwise glue itself onto
  // the first section header and make it "unknown".
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = body.split(/\r\n|\n|\r/);
  const sections: IniSection[] = [];
  let current: IniSection | undefined;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    const comment = commentStart(raw, options.shellKeys);
    const content = (comment >= 0 ? raw.slice(0, comment) : raw).trim();
    if (content === '') continue;

    if (content.startsWith('[')) {
      const header = /^\[([^[\]]*)\]$/.exec(content);
      const name = header?.[1]?.trim() ?? '';
      if (!header || name === '') {
        throw new IniSyntaxError(lineNo, undefined, 'malformed section header; expected [Interface] or [Peer]');
      }
      current = { name, line: lineNo, entries: [] };
      sections.push(current);
      continue;
    }

    const eq = content.indexOf('=');
    if (eq < 0) {
      throw new IniSyntaxError(lineNo, undefined, 'not a "Key = Value" line, a [Section] header or a comment');
    }
    const key = content.slice(0, eq).trim();
    const value = content.slice(eq + 1).trim();
    if (key === '') {
      throw new IniSyntaxError(lineNo, undefined, 'missing key name before "="');
    }
    if (!current) {
      throw new IniSyntaxError(lineNo, key, 'is outside a section; put it under [Interface] or [Peer]');
    }
    current.entries.push({ key, value, line: lineNo });
  }

  // A final newline ends the last line rather than starting an empty one.
  const trailing = lines.length > 1 && lines[lines.length - 1] === '' ? 1 : 0;
  return { sections, lastLine: Math.max(1, lines.length - trailing) };
}
