// A ping running in the background at a fixed interval, to prove that a
// live change (reload, set) loses no packet: count what was sent and which
// echo requests got no reply.
import type { TestNet } from './netns.js';

export interface PingCount {
  /** Echo requests sent. */
  sent: number;
  /** Replies missing among them, not counting the last one (maybe still in flight when it stopped). */
  lost: number;
}

/** Starts `ping -i INTERVAL` from namespace `ns` to `target`; stop() ends it and counts. */
export function pingEvery(net: TestNet, ns: string, target: string, intervalS = 0.05): { stop(): Promise<PingCount> } {
  const child = net.spawn(ns, ['ping', '-n', '-i', String(intervalS), '-W', '1', target]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await closed;
      // Only replies count: "From ... icmp_seq=N Destination Host Unreachable" is none.
      const seqs = new Set([...out.matchAll(/bytes from .* icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
      let lost = 0;
      for (let seq = 1; seq < sent; seq++) if (!seqs.has(seq)) lost++;
      return { sent, lost };
    },
  };
}
