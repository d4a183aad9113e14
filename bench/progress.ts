// One line per measurement: which case, how far, how long is left. The
// remaining time is the plan's estimate for what is left, scaled by how the
// plan has matched reality so far on this machine.
import { formatDuration, stepSeconds, type Plan, type Step } from './matrix.js';

export class Progress {
  private done = 0;
  private plannedDone = 0;
  private readonly plannedTotal: number;
  /** Seconds spent before the first step (setup): in elapsed, not in the pace. */
  private readonly setupS: number;

  constructor(
    private readonly plan: Plan,
    private readonly all: readonly Step[],
    /** When the bench started (Date.now()), so elapsed covers setup too. */
    private readonly start: number,
  ) {
    this.plannedTotal = all.reduce((s, st) => s + stepSeconds(st, plan), 0);
    this.setupS = (Date.now() - start) / 1000;
  }

  /** Prints the step about to run; the caller finishes the line with its result. */
  begin(step: Step): void {
    const elapsed = (Date.now() - this.start) / 1000;
    const stepsElapsed = Math.max(0, elapsed - this.setupS);
    const pace = this.plannedDone > 0 ? Math.min(3, Math.max(0.5, stepsElapsed / this.plannedDone)) : 1;
    const left = (this.plannedTotal - this.plannedDone) * pace;
    const what = step.kind === 'iperf' ? `iperf3 ${step.streams} stream${step.streams > 1 ? 's' : ''}` : 'idle ping';
    const n = String(this.done + 1).padStart(String(this.all.length).length);
    process.stdout.write(
      `[${n}/${this.all.length}] loss ${(step.lossRate * 100).toFixed(1)}% · round ${step.round}/${this.plan.rounds} · ${step.tunnel.padEnd(12)} · ${what.padEnd(17)}` +
        ` | ${formatDuration(elapsed)} elapsed, ~${formatDuration(left)} left | `,
    );
  }

  end(step: Step, result: string): void {
    this.done++;
    this.plannedDone += stepSeconds(step, this.plan);
    process.stdout.write(`${result}\n`);
  }
}
