// The bench's two hosts: network namespaces joined by a veth pair on
// TEST-NET-1, plus the impairment of that underlay link. Loss is made with
// netem where the kernel has it (which also gives delay), otherwise with an
// iptables `statistic` DROP rule on INPUT of the veth in BOTH namespaces:
// every underlay packet is received exactly once, by the other side, so each
// direction loses P. INPUT rather than OUTPUT because a local OUTPUT drop is
// reported to the sending socket (EPERM) instead of vanishing like wire loss.
// Minimal copy of test/helpers/netns.ts: bench code does not import tests.
import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { defer, killPidSync, namespaceOf } from './cleanup.js';
import { mustRun, run } from './exec.js';

export type LossMethod = 'netem' | 'iptables';

export interface LossObservation {
  lossRate: number;
  /** Packets that reached each veth while this loss rate was set, both namespaces. */
  underlayPackets: number;
  dropped: number;
}

const RULE_COMMENT = 'sealtun-bench';

/** The part of `ip -s -j link show` the loss check reads. */
const LinkStats = z.array(z.object({ stats64: z.object({ rx: z.object({ packets: z.number() }) }) }));

function ipSync(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export class Underlay {
  readonly a: string;
  readonly b: string;
  readonly vethA: string;
  readonly vethB: string;
  readonly addrA = '192.0.2.1';
  readonly addrB = '192.0.2.2';
  lossMethod: LossMethod = 'iptables';
  /** Round-trip delay actually applied (ms); 0 without netem. */
  delayMs = 0;
  /** Impairments in force: how to remove each, and how to drop its entry from the cleanup stack. */
  private readonly active: Array<{ remove: () => void; forget: () => void }> = [];
  private rxAtLossStart = 0;

  private constructor(readonly tag: string) {
    this.a = `sealtun-bench-${tag}-a`;
    this.b = `sealtun-bench-${tag}-b`;
    this.vethA = `sb${tag}a`;
    this.vethB = `sb${tag}b`;
  }

  /** Creates both namespaces and the link; registers their removal first, so it runs last. */
  static create(tag: string): Underlay {
    const net = new Underlay(tag);
    for (const ns of [net.a, net.b]) {
      ipSync('netns', 'add', ns);
      defer(`remove namespace ${ns}`, () => removeNamespace(ns));
    }
    ipSync('link', 'add', net.vethA, 'netns', net.a, 'type', 'veth', 'peer', 'name', net.vethB, 'netns', net.b);
    for (const [ns, dev, addr] of [
      [net.a, net.vethA, net.addrA],
      [net.b, net.vethB, net.addrB],
    ] as const) {
      ipSync('-n', ns, 'link', 'set', 'lo', 'up');
      ipSync('-n', ns, 'address', 'add', `${addr}/24`, 'dev', dev);
      ipSync('-n', ns, 'link', 'set', dev, 'up');
    }
    return net;
  }

  sides(): Array<{ ns: string; dev: string }> {
    return [
      { ns: this.a, dev: this.vethA },
      { ns: this.b, dev: this.vethB },
    ];
  }

  /**
   * The TCP congestion control sockets in the namespaces get by default (the
   * outer TCP of TCP transports). A new namespace inherits the host's, and may
   * only switch to an algorithm the host lists as allowed, so the bench reads
   * it rather than sets it; iperf3's own sockets choose theirs with -C.
   */
  async defaultCongestionControl(): Promise<string> {
    return (await mustRun(['cat', '/proc/sys/net/ipv4/tcp_congestion_control'], { ns: this.a })).trim();
  }

  /** Whether `tc ... netem` works here; probed on the real veth and removed again. */
  async probeNetem(): Promise<boolean> {
    const r = await run(['tc', 'qdisc', 'add', 'dev', this.vethA, 'root', 'netem', 'delay', '0ms'], { ns: this.a });
    if (r.code !== 0) return false;
    await run(['tc', 'qdisc', 'del', 'dev', this.vethA, 'root'], { ns: this.a });
    return true;
  }

  /**
   * Sets the underlay's loss rate (0..1) in both directions, replacing the
   * previous one. With netem, `rttDelayMs` is applied too, half each way.
   */
  async setImpairment(lossRate: number, rttDelayMs: number): Promise<void> {
    for (let rule = this.active.pop(); rule; rule = this.active.pop()) {
      rule.remove();
      rule.forget();
    }
    this.rxAtLossStart = await this.rxPackets();
    if (this.lossMethod === 'netem') {
      this.delayMs = rttDelayMs;
      if (lossRate === 0 && rttDelayMs === 0) return;
      for (const { ns, dev } of this.sides()) {
        await mustRun(['tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${rttDelayMs / 2}ms`, 'loss', `${lossRate * 100}%`], { ns });
        this.track(`remove netem on ${dev}`, () => execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root'], { stdio: 'pipe' }));
      }
      return;
    }
    if (lossRate === 0) return;
    for (const { ns, dev } of this.sides()) {
      const spec = ['INPUT', '-i', dev, '-m', 'statistic', '--mode', 'random', '--probability', String(lossRate), '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'];
      await mustRun(['iptables', '-w', '-A', ...spec], { ns });
      this.track(`remove iptables rule in ${ns}`, () => execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-D', ...spec], { stdio: 'pipe' }));
    }
    // Exactly one loss rule per side, or the rates would compound.
    for (const { ns } of this.sides()) {
      const rules = (await mustRun(['iptables', '-w', '-S', 'INPUT'], { ns })).split('\n').filter((l) => l.includes(RULE_COMMENT));
      if (rules.length !== 1) throw new Error(`expected one loss rule in ${ns}, found ${rules.length}: ${rules.join('; ')}`);
    }
  }

  private track(what: string, remove: () => void): void {
    this.active.push({ remove, forget: defer(what, remove) });
  }

  /** Packets received and dropped on the underlay since the last setImpairment(): checks the loss is real. */
  async observeLoss(lossRate: number): Promise<LossObservation> {
    const underlayPackets = (await this.rxPackets()) - this.rxAtLossStart;
    let dropped = 0;
    if (this.lossMethod === 'iptables') {
      for (const { ns } of this.sides()) {
        const r = await run(['iptables', '-w', '-L', 'INPUT', '-v', '-x', '-n'], { ns });
        for (const line of r.stdout.split('\n')) if (line.includes(RULE_COMMENT)) dropped += Number(line.trim().split(/\s+/)[0]) || 0;
      }
    } else {
      for (const { ns, dev } of this.sides()) {
        const r = await run(['tc', '-s', 'qdisc', 'show', 'dev', dev], { ns });
        dropped += Number(/dropped (\d+)/.exec(r.stdout)?.[1] ?? 0);
      }
    }
    return { lossRate, underlayPackets, dropped };
  }

  private async rxPackets(): Promise<number> {
    let total = 0;
    for (const { ns, dev } of this.sides()) {
      const r = await run(['ip', '-s', '-j', 'link', 'show', 'dev', dev], { ns });
      try {
        const parsed = LinkStats.safeParse(JSON.parse(r.stdout));
        // Counters are informational only: unreadable ones count as zero.
        total += parsed.success ? (parsed.data[0]?.stats64.rx.packets ?? 0) : 0;
      } catch {
        /* not JSON: same */
      }
    }
    return total;
  }
}

/** Stops whatever still runs in a namespace of ours (all started by the bench), then deletes it. */
export function removeNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { stdio: 'pipe' }).toString().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return; // namespace not there
  }
  for (const pid of pids) if (namespaceOf(pid) === ns) killPidSync(pid, 1000);
  try {
    ipSync('netns', 'del', ns);
  } catch {
    /* already gone */
  }
}
