// TCP throughput through a tunnel with iperf3: a one-shot server in B, the
// client in A with JSON output. The figure is what the receiver got (goodput),
// not what the sender pushed into its socket buffer.
import { join } from 'node:path';
import { z } from 'zod';
import { Proc, run, waitFor } from '../exec.js';

const Sum = z.object({
  seconds: z.number(),
  bytes: z.number(),
  bits_per_second: z.number(),
  retransmits: z.number().optional(),
});

/** The parts of `iperf3 -J` output the bench uses; everything else is ignored. */
const IperfJson = z.object({
  end: z
    .object({
      sum_sent: Sum.optional(),
      sum_received: Sum.optional(),
      sender_tcp_congestion: z.string().optional(),
    })
    .optional(),
  error: z.string().optional(),
});

export type IperfResult =
  | {
      ok: true;
      /** Receiver goodput, Mbit/s (10^6). */
      mbps: number;
      senderMbps: number;
      /** Payload bytes the receiver got. */
      bytes: number;
      seconds: number;
      retransmits: number | null;
      congestion: string | null;
    }
  | { ok: false; error: string };

/** Parses the JSON that `iperf3 -c ... -J` prints, successful or not. */
export function parseIperfJson(text: string): IperfResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: `iperf3 printed no JSON: ${text.trim().slice(0, 200) || '(nothing)'}` };
  }
  const parsed = IperfJson.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `unexpected iperf3 JSON: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const { end, error } = parsed.data;
  if (error) return { ok: false, error: `iperf3: ${error}` };
  if (!end?.sum_received || !end.sum_sent) return { ok: false, error: 'iperf3 JSON has no end sums' };
  return {
    ok: true,
    mbps: end.sum_received.bits_per_second / 1e6,
    senderMbps: end.sum_sent.bits_per_second / 1e6,
    bytes: end.sum_received.bytes,
    seconds: end.sum_received.seconds,
    retransmits: end.sum_sent.retransmits ?? null,
    congestion: end.sender_tcp_congestion ?? null,
  };
}

export const IPERF_PORT = 5201;

export interface IperfRun {
  serverNs: string;
  clientNs: string;
  target: string;
  streams: number;
  seconds: number;
  /** Congestion control of the measured (inner) TCP connections, iperf3 -C. */
  congestion: string;
  /** Where the server's output goes. */
  logDir: string;
  /** Called once the client has started (to begin loaded-latency pings). */
  onStart?: () => void;
  /** Server port; several runs at once each need their own (default IPERF_PORT). */
  port?: number;
}

/**
 * One measurement: a fresh one-shot server (so a failed run cannot wedge the
 * next), the client, and a hard timeout for a tunnel that stalls.
 */
export async function iperf(opts: IperfRun): Promise<IperfResult> {
  const port = opts.port ?? IPERF_PORT;
  const log = join(opts.logDir, port === IPERF_PORT ? 'iperf3-server.log' : `iperf3-server-${port}.log`);
  const server = new Proc('iperf3 server', ['iperf3', '-s', '-1', '-p', String(port)], { ns: opts.serverNs, log });
  try {
    await waitFor(
      'iperf3 server to listen',
      async () => (await run(['ss', '-Hltn', `sport = :${port}`], { ns: opts.serverNs })).stdout.includes(`:${port}`),
      5000,
      30,
    );
    const client = run(
      ['iperf3', '-c', opts.target, '-p', String(port), '-t', String(opts.seconds), '-P', String(opts.streams), '-C', opts.congestion, '-J', '--connect-timeout', '3000'],
      { ns: opts.clientNs, timeoutMs: (opts.seconds + 20) * 1000 },
    );
    opts.onStart?.();
    const r = await client;
    if (r.signal === 'SIGKILL') return { ok: false, error: `iperf3 did not finish within ${opts.seconds + 20} s (tunnel stalled?)` };
    return parseIperfJson(r.stdout);
  } finally {
    await server.stop(1000);
  }
}
