// The Wycheproof JSON layouts (C2SP/wycheproof testvectors_v1, schemas
// aead_test_schema_v1 and xdh_comp_schema_v1) and the counts the tests put in
// their titles. The files are in test/vectors/wycheproof/ (README there).
import { loadVectors } from './vectors.js';

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
}

export interface AeadTest extends WycheproofTest {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}

export interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: AeadTest[];
}

export interface XdhTest extends WycheproofTest {
  public: string;
  private: string;
  shared: string;
}

export interface XdhGroup {
  curve: string;
  tests: XdhTest[];
}

export interface WycheproofFile<G extends { tests: WycheproofTest[] }> {
  algorithm: string;
  numberOfTests: number;
  notes: Record<string, unknown>;
  testGroups: G[];
}

export function loadWycheproof<G extends { tests: WycheproofTest[] }>(file: string): WycheproofFile<G> {
  return loadVectors<WycheproofFile<G>>(`wycheproof/${file}`);
}

export function allTests<T extends WycheproofTest>(groups: readonly { tests: T[] }[]): T[] {
  return groups.flatMap((g) => g.tests);
}

/** "315 vectors: 246 valid, 69 invalid" (results in a fixed order, absent ones left out). */
export function counts(tests: readonly WycheproofTest[]): string {
  const order: WycheproofResult[] = ['valid', 'acceptable', 'invalid'];
  const parts = order
    .map((result) => [result, tests.filter((t) => t.result === result).length] as const)
    .filter(([, n]) => n > 0)
    .map(([result, n]) => `${n} ${result}`);
  return `${tests.length} vector${tests.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** "ivSize 192 keySize 256 tagSize 128" (bits, as Wycheproof gives them). */
export function aeadGroupName(g: AeadGroup): string {
  return `ivSize ${g.ivSize} keySize ${g.keySize} tagSize ${g.tagSize}`;
}

/** "tcId 42 (EdgeCaseTag, ModifiedTag: comment)", for assertion messages. */
export function label(t: WycheproofTest): string {
  return `tcId ${t.tcId} (${t.flags.join(', ')}${t.comment ? `: ${t.comment}` : ''})`;
}
