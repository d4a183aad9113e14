// What the numbers were measured on, recorded with every result: ratios
// travel between machines, absolute figures do not.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { run } from './exec.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  /** Default TCP congestion control of the host (the bench sets its own in its namespaces). */
  hostCongestionControl: string;
  loadAvgAtStart: number[];
  tools: Record<string, string>;
}

async function firstLine(cmd: string[]): Promise<string> {
  const r = await run(cmd, { timeoutMs: 5000 });
  return (r.stdout || r.stderr).split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const osRelease = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readOr('/etc/os-release', ''))?.[1] ?? 'unknown';
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os: osRelease,
    node: process.version,
    hostCongestionControl: readOr('/proc/sys/net/ipv4/tcp_congestion_control', 'unknown').trim(),
    loadAvgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    tools: {
      iperf3: await firstLine(['iperf3', '--version']),
      ping: await firstLine(['ping', '-V']),
      iptables: await firstLine(['iptables', '-V']),
      openssl: await firstLine(['openssl', 'version']),
    },
  };
}
