// `sealtun check CONFIG [--json]`: validates a config and prints what `up`
// would do with it, touching nothing on the system. Config mistakes are
// ConfigErrors (FILE:LINE: Key: what is wrong), reported by main.ts.
import { loadConfig } from '../config/config.js';
import { initSodium } from '../crypto/sodium.js';
import { effectiveSettings, type EffectiveSettings } from '../tunnel/effective-settings.js';
import { dnsPlan, type DnsPlan } from '../host/dns.js';
import { expandedHooks } from '../host/hooks.js';
import type { Hooks, TunnelConfig } from '../config/config.js';
import { describePlan, policyFamilies, routingPlan } from '../host/policy-routing.js';
import { describeKillSwitch, requireNft } from '../host/kill-switch.js';

/** What `check` prints: the tunnel's settings, plus what `up` would set on the host for DNS and run as hooks. */
type CheckReport = EffectiveSettings & { dns: DnsPlan; hooks: Hooks };

/** Prints the effective settings; returns the exit code (1 when `up` would refuse the config). */
export async function runCheck(configPath: string, json: boolean): Promise<number> {
  await initSodium();
  const config = loadConfig(configPath);
  const dns = dnsPlan(config);
  const settings: CheckReport = { ...effectiveSettings(config), dns, hooks: expandedHooks(config) };
  if (dns.problem) settings.problems.push(dns.problem);
  try {
    requireNft(config);
  } catch (err) {
    settings.problems.push((err as Error).message);
  }
  // Routes as Table places them, and the rules, mark and kill switch `up` adds (src/host/setup.ts).
  const plan = routingPlan(config);
  const table = typeof plan.routeTable === 'number' ? { table: plan.routeTable } : {};
  settings.routes = plan.routes.map((destination) => ({ destination, device: config.iface.name, ...table }));
  settings.host = [...describePlan(plan, config.iface.name), ...describeKillSwitch(config)];
  settings.warnings.push(...leakWarnings(config, dns));
  config.iface.privateKey.fill(0);
  for (const p of config.peers) p.presharedKey?.fill(0);
  if (json) console.log(JSON.stringify(settings, null, 2));
  else console.log(formatCheck(settings));
  for (const p of settings.problems) process.stderr.write(`sealtun: ${configPath}: ${p}\n`);
  return settings.problems.length > 0 ? 1 : 0;
}

/** What a full tunnel or kill switch probably did not mean to leave outside the tunnel (or cut off): DNS, IPv6. */
export function leakWarnings(config: TunnelConfig, dns: DnsPlan): string[] {
  const warnings: string[] = [];
  const families = policyFamilies(config.peers);
  const { killSwitch } = config.iface;
  if ((families.length > 0 || killSwitch) && dns.servers.length === 0) {
    warnings.push(
      `${families.length > 0 ? 'a full tunnel' : 'KillSwitch = on'} without DNS: the host's resolver is used, and one on the LAN is reached outside the tunnel ` +
        `(${killSwitch ? 'the kill switch drops every query' : 'every query leaks in cleartext'}); set DNS = a resolver on the tunnel side`,
    );
  }
  if (families.length === 1 && families[0] === 4 && !killSwitch) {
    warnings.push('AllowedIPs holds 0.0.0.0/0 but not ::/0, and KillSwitch is off: IPv6 traffic still leaves outside the tunnel; add ::/0 or KillSwitch = on');
  }
  return warnings;
}

const ROLE_TEXT = {
  initiates: 'initiates (Endpoint set, no ListenPort): connects to the peer',
  accepts: 'accepts (ListenPort set, no Endpoint): waits for the peer',
  both: 'both (Endpoint and ListenPort set): connects, and accepts the peer from anywhere',
} as const;

export function formatCheck(s: CheckReport): string {
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
    ...(s.routes.length === 0 ? ['  (none)'] : s.routes.map((r) => `  ${r.destination} dev ${r.device}${r.table === undefined ? '' : ` table ${r.table}`}`)),
    'host changes (removed by sealtun down):',
    ...(s.host ?? []).map((l) => `  ${l}`),
  ];
  lines.push(...dnsAndHookLines(s));
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

const HOOK_KEYS = [
  ['preUp', 'PreUp (before the interface exists)'],
  ['postUp', 'PostUp (once it is configured)'],
  ['preDown', 'PreDown (before it goes)'],
  ['postDown', 'PostDown (after it went)'],
] as const;

function dnsAndHookLines(s: CheckReport): string[] {
  const { dns, hooks } = s;
  const lines: string[] = [];
  if (dns.servers.length + dns.searchDomains.length === 0) lines.push('dns: not set (the resolver is left as it is)');
  else {
    lines.push(`dns: servers ${dns.servers.join(', ') || 'none'}; search domains ${dns.searchDomains.join(', ') || 'none'}`);
    for (const c of dns.commands) lines.push(`  ${c}`);
    if (dns.problem) lines.push(`  not applicable: ${dns.problem}`);
  }
  const any = HOOK_KEYS.some(([k]) => hooks[k].length > 0);
  lines.push(any ? 'hooks (run as root with /bin/sh -c, in this order):' : 'hooks: none');
  for (const [k, label] of HOOK_KEYS) for (const c of hooks[k]) lines.push(`  ${label}: ${c}`);
  return lines;
}
