// The scale phase of `make bench-peers`: for each N, a sealtun server with N
// configured, idle peers in a fresh namespace — its memory, and how long
// `up`, `status --json` and a `reload` changing one peer's AllowedIPs take —
// and wireguard-go with the same N peers (`wg setconf`) in another fresh
// namespace, for its memory.
import { join } from 'node:path';
import { sleep } from './exec.js';
import { makePeerSet, sealtunServerConfig, wgServerConfig, writeSecretFile, type PeerSet } from './peers-config.js';
import { Star } from './peers-net.js';
import { rssBytes, SealtunDaemon } from './peers-sealtun.js';
import { WireguardGoServer } from './peers-wireguard.js';

const PORT = 51890;
/** A prefix no generated peer holds: the one AllowedIPs a reload adds to, then takes from, the last peer. */
const RELOAD_EXTRA = '10.82.0.1/32';
/** Samples of memory 1 s apart, once settled (median taken). */
const RSS_SAMPLES = 3;

export interface SealtunScale {
  rss: number | null;
  upS: number;
  /** Medians of `repeats` runs. */
  statusS: number | null;
  reloadS: number | null;
  /** Peers the status listed (must be N). */
  statusPeers: number | null;
  reloadOutput?: string;
  /** Why no reload time is given: a reload that did not report the change made is not a reload of one peer. */
  reloadError?: string;
  error?: string;
}

export interface WireguardScale {
  rss: number | null;
  setconfS: number;
  peers: number | null;
  error?: string;
}

export interface ScaleRow {
  n: number;
  sealtun: SealtunScale;
  wireguardGo: WireguardScale | null;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * VmRSS once the process has been idle `settleMs`: Node hands the pages of
 * its start-up garbage (the parsed config, keys read) back to the system
 * only after some idle seconds (V8's memory reducer), so a reading taken at
 * once counts them as the peers' (measured: about 9.4 KiB per peer 4 s after
 * `up` with 5 000 peers, 4.7 KiB after 30 s). Both daemons get the same wait.
 */
async function settledRss(pid: number, settleMs: number): Promise<number | null> {
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i++) {
    if (i) await sleep(1000);
    const r = rssBytes(pid);
    if (r !== null) samples.push(r);
  }
  return median(samples);
}

async function measureSealtun(set: PeerSet, dir: string, tag: string, repeats: number, settleMs: number): Promise<SealtunScale> {
  const n = set.peers.length;
  const star = Star.create(`${tag}n${n}`);
  const d = new SealtunDaemon(star.server, `stpn${tag}`, join(dir, `scale-run-${n}`));
  const conf = join(dir, `scale-${n}.conf`);
  const render = (extra: boolean): string =>
    sealtunServerConfig(set, { name: d.name, listenPort: PORT, extraAllowed: extra ? new Map([[n - 1, RELOAD_EXTRA]]) : undefined });
  const out: SealtunScale = { rss: null, upS: NaN, statusS: null, reloadS: null, statusPeers: null };
  try {
    writeSecretFile(conf, render(false));
    out.upS = await d.up(conf);
    out.rss = await settledRss(d.pid, settleMs);
    const statuses: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const s = await d.status();
      statuses.push(s.seconds);
      out.statusPeers = s.json.peers.length;
    }
    out.statusS = median(statuses);
    const reloads: number[] = [];
    const changed = set.peers[n - 1]!.publicKey;
    for (let i = 0; i < repeats && out.reloadError === undefined; i++) {
      writeSecretFile(conf, render(i % 2 === 0));
      const r = await d.reload(conf);
      out.reloadOutput ??= r.out;
      if (r.out.includes(changed) && /allowed IPs/i.test(r.out)) reloads.push(r.seconds);
      else out.reloadError = `the reload changing peer ${n}'s AllowedIPs printed ${JSON.stringify(r.out)}, not that change`;
    }
    if (out.reloadError === undefined) out.reloadS = median(reloads);
  } catch (err) {
    out.error = `${(err as Error).message.split('\n')[0]}`;
  } finally {
    await d.down();
    star.remove();
  }
  return out;
}

async function measureWireguardGo(set: PeerSet, dir: string, tag: string, settleMs: number): Promise<WireguardScale> {
  const n = set.peers.length;
  const star = Star.create(`${tag}w${n}`);
  const wg = new WireguardGoServer(star.server, `wgp${tag}`, dir);
  const out: WireguardScale = { rss: null, setconfS: NaN, peers: null };
  try {
    const conf = join(dir, `scale-wg-${n}.conf`);
    writeSecretFile(conf, wgServerConfig(set, PORT));
    out.setconfS = await wg.up(conf);
    out.rss = await settledRss(wg.pid, settleMs);
    out.peers = await wg.peerCount();
  } catch (err) {
    out.error = (err as Error).message.split('\n')[0];
  } finally {
    await wg.down();
    star.remove();
  }
  return out;
}

export interface ScaleOptions {
  counts: number[];
  /** Runs of status and of reload per N (median reported). */
  repeats: number;
  /** Idle time after start before memory is read (see settledRss). */
  settleMs: number;
  wireguardGo: boolean;
  dir: string;
  tag: string;
  log: (line: string) => void;
}

export async function runScale(opts: ScaleOptions): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const n of opts.counts) {
    const set = await makePeerSet(n);
    const sealtun = await measureSealtun(set, opts.dir, opts.tag, opts.repeats, opts.settleMs);
    opts.log(`N=${n} sealtun: ${sealtun.error ?? `RSS ${mib(sealtun.rss)} MiB, up ${sealtun.upS.toFixed(2)} s, status ${sealtun.statusS?.toFixed(3)} s (${sealtun.statusPeers} peers), ${sealtun.reloadError ? `reload: ${sealtun.reloadError}` : `reload ${sealtun.reloadS?.toFixed(3)} s`}`}`);
    const wireguardGo = opts.wireguardGo ? await measureWireguardGo(set, opts.dir, opts.tag, opts.settleMs) : null;
    if (wireguardGo) opts.log(`N=${n} wireguard-go: ${wireguardGo.error ?? `RSS ${mib(wireguardGo.rss)} MiB, setconf ${wireguardGo.setconfS.toFixed(2)} s (${wireguardGo.peers} peers)`}`);
    rows.push({ n, sealtun, wireguardGo });
  }
  return rows;
}

export function mib(bytes: number | null): string {
  return bytes === null ? '—' : (bytes / 2 ** 20).toFixed(1);
}
