// Writes the three result files side by side. The JSON goes first so the
// raw runs survive even if rendering the report fails.
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BenchResult } from '../results.js';
import { renderChartSvg } from './chart.js';
import { renderMarkdown } from './markdown.js';
import { summarize } from './summary.js';

export interface Written {
  json: string;
  md: string;
  svg: string;
  markdown: string;
}

/** `stem` is the path without extension, e.g. bench/results/2026-01-01T00-00-00Z. */
export async function writeResults(result: BenchResult, stem: string, opts: { json?: boolean } = {}): Promise<Written> {
  const json = `${stem}.json`;
  if (opts.json !== false) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  const rows = summarize(result);
  const svg = `${stem}.svg`;
  writeFileSync(svg, await renderChartSvg(rows, `sealtun benchmark ${result.startedAt} (${result.mode}) — ${result.machine.cpuModel}, ${result.machine.cores} cores`));
  const md = `${stem}.md`;
  const markdown = renderMarkdown(result, rows, basename(svg));
  writeFileSync(md, markdown);
  return { json, md, svg, markdown };
}

export function resultStem(dir: string, startedAt: string): string {
  return join(dir, startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'));
}
