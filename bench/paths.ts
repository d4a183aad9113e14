// Where things are, independent of the working directory: this file runs
// as dist/bench/paths.js, so the repository root is two levels up.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SEALTUN_BIN = join(REPO, 'bin', 'sealtun');
export const RESULTS_DIR = join(REPO, 'bench', 'results');
