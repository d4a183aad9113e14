// `sealtun check CONFIG [--json]`: validates a config and prints what `up`
// would do with it, touching nothing on the system. Config mistakes are
// ConfigErrors (FILE:LINE: Key: what is wrong), reported by main.ts.
import { loadConfig } from '../config/config.js';
import { initSodium } from '../crypto/sodium.js';
import { effectiveSettings, type EffectiveSettings } from '../tunnel/effective-settings.js';

/** Prints the effective settings; returns the exit code (1 when `up` would refuse the config). */
export async function runCheck(configPath: string, json: boolean): Promise<number> {
  await initSodium();
  const config = loadConfig(configPath);
  const settings = effectiveSettings(config);
  config.iface.privateKey.fill(0);
  for (const p of config.peers) p.presharedKey?.fill(0);
  if (json) console.log(JSON.stringify(settings, null, 2));
  else console.log(formatCheck(settings));
  for (const p of settings.problems) process.stderr.write(`sealtun: ${configPath}: ${p}\n`);
  return settings.problems.length > 0 ? 1 : 0;
}

const ROLE_TEXT = {
  initiates: 'initiates (Endpoint set, no ListenPort): connects to the peer',
  accepts: 'accepts (ListenPort set, no Endpoint): waits for the peer',
  both: 'both (Endpoint and ListenPort set): connects, and accepts the peer from anywhere',
} as const;

export function formatCheck(s: EffectiveSettings): string {
  const i = s.interface;
  const mtu = `${i.mtu.value} (${i.mtu.derived ? `derived: ${i.mtu.formula}` : i.mtu.formula})`;
  const privileges = i.user === null ? 'kept (no User set)' : `dropped to ${i.user} once the tunnel is up`;
  const lines = [
    `${s.file}: ${s.problems.length === 0 ? 'valid' : 'INVALID'}`,
    `interface: ${i.name}`,
    `  public key: ${i.publicKey}`,
    `  addresses: ${i.addresses.join(', ')}`,
    `  transport: ${i.transport === 'auto' ? 'auto (UDP first, TCP on the same port when UDP does not get through)' : i.transport}`,
    `  mtu: ${mtu}`,
    `  listening: ${i.listen === null ? 'no (TCP without ListenPort)' : `${i.listen}${i.transport !== 'auto' ? '' : s.role === 'initiates' ? ' (UDP only)' : ' (UDP and TCP)'}`}`,
    `  role: ${ROLE_TEXT[s.role]}`,
    `  privileges: ${privileges}`,
    `  keep warm: ${i.keepWarmMs === 0 ? 'off' : `across pauses up to ${i.keepWarmMs} ms`}`,
    `  metrics: ${i.metricsListen === null ? 'off' : `http://${i.metricsListen}/metrics (Prometheus text, no authentication)`}`,
    ...s.peers.flatMap((p) => [
      `peer: ${p.publicKey}`,
      `  endpoint: ${p.endpoint ?? 'none (the peer connects to us)'}`,
      `  allowed ips: ${p.allowedIPs.join(', ')}`,
      `  preshared key: ${p.presharedKey ? 'yes' : 'no'}`,
      `  persistent keepalive: ${p.persistentKeepalive === null ? 'off' : `every ${p.persistentKeepalive} s`}`,
    ]),
    'routes to be added:',
    ...s.routes.map((r) => `  ${r.destination} dev ${r.device}`),
  ];
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
