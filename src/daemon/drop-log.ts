// Drops are counted per packet but logged at most once a minute, summed by
// reason: a flood of garbage must not turn into a flood of log lines.
import type { Logger } from '../log.js';

export class DropLog {
  private last = new Map<string, number>();

  constructor(
    private readonly read: () => Record<string, number>,
    private readonly log: Logger,
  ) {}

  /** Logs what was dropped since the previous call, if anything. */
  report(): void {
    const now = this.read();
    const parts: string[] = [];
    for (const [reason, n] of Object.entries(now)) {
      const delta = n - (this.last.get(reason) ?? 0);
      if (delta > 0) parts.push(`${reason} ${delta}`);
    }
    this.last = new Map(Object.entries(now));
    if (parts.length > 0) this.log.info(`dropped in the last minute: ${parts.join(', ')}`);
  }
}
