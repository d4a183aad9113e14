// The underlay itself, no tunnel: the ceiling every tunnel is measured against.
import type { Tunnel, TunnelContext, TunnelInfo } from './types.js';

export class BareUnderlay implements Tunnel {
  readonly id = 'underlay';
  readonly software = 'underlay';
  readonly transport = 'none';
  readonly label = 'underlay (no tunnel)';
  readonly target: string;

  constructor(ctx: TunnelContext) {
    this.target = ctx.net.addrB;
  }

  async up(): Promise<void> {}
  pids(): number[] {
    return [];
  }
  alive(): boolean {
    return true;
  }
  async info(): Promise<TunnelInfo> {
    return { id: this.id, software: this.software, transport: this.transport, label: this.label, version: 'kernel veth', innerMtu: null, config: 'veth pair, MTU 1500' };
  }
  logTail(): string {
    return '';
  }
  async down(): Promise<void> {}
}
