// Daemons in namespace A of a TestNet whose peers never answer: for tests of
// what `up`, `down`, `reload` and `set` do on the host (rules, sysctls, the
// ledger), not of the tunnel. Keys a.key/b.key in a temp dir, a run dir of
// its own; destroy() takes every named tunnel down and removes it all.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePidFile } from '../../src/daemon/process-identity.js';
import { namespaceRunDir } from '../../src/daemon/rundir.js';
import { TestNet, type RunResult } from './netns.js';
import { SEALTUN } from './tunnel-pair.js';

export class LoneDaemons {
  readonly net = TestNet.create();
  readonly dir = mkdtempSync(join(tmpdir(), 'sealtun-lone-'));
  readonly env: NodeJS.ProcessEnv = { ...process.env, SEALTUN_RUN_DIR: join(this.dir, 'run') };

  static async create(): Promise<LoneDaemons> {
    const d = new LoneDaemons();
    for (const k of ['a', 'b']) {
      const r = await d.sealtun(['keygen', join(d.dir, k)]);
      if (r.code !== 0) throw new Error(`keygen: ${r.stderr}`);
    }
    return d;
  }

  /** `sealtun ARGS` in namespace A; `wrap` goes before it (e.g. unshare -m sh -c …). */
  sealtun(args: string[], wrap: string[] = []): Promise<RunResult> {
    return this.net.run(this.net.a, [...wrap, process.execPath, SEALTUN, ...args], { env: this.env, timeoutMs: 30_000 });
  }

  /** RUN_DIR/NAME.EXT as the daemons in namespace A see it. */
  runFile(name: string, ext: string): string {
    return join(namespaceRunDir(join(this.dir, 'run'), this.net.a), `${name}.${ext}`);
  }

  async destroy(names: readonly string[]): Promise<void> {
    const pids: number[] = [];
    for (const name of names) {
      await this.sealtun(['down', name]);
      try {
        const pid = parsePidFile(readFileSync(this.runFile(name, 'pid'), 'utf8'))?.pid;
        if (pid !== undefined) pids.push(pid);
      } catch {
        /* not running */
      }
    }
    await this.net.destroy(pids);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
