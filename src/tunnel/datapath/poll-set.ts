// A poll() set in native memory, for the workers' blocking waits.
import * as libc from '../../sys/libc.js';

/** [descriptor, events]; events default to POLLIN. */
export type PollEntry = number | readonly [number, number];

export class PollSet {
  private mem = libc.allocNative(libc.SIZEOF_POLLFD);
  private fds: number[] = [];

  constructor(entries: PollEntry[]) {
    this.set(entries);
  }

  /** Replaces the descriptors watched. */
  set(entries: PollEntry[]): void {
    this.fds = entries.map((e) => (typeof e === 'number' ? e : e[0]));
    if (this.mem.view.length < entries.length * libc.SIZEOF_POLLFD) this.mem = libc.allocNative(entries.length * libc.SIZEOF_POLLFD);
    entries.forEach((e, i) => {
      const [fd, events] = typeof e === 'number' ? [e, libc.POLLIN] : e;
      this.mem.view.writeInt32LE(fd, i * libc.SIZEOF_POLLFD);
      this.mem.view.writeInt16LE(events, i * libc.SIZEOF_POLLFD + 4);
      this.mem.view.writeInt16LE(0, i * libc.SIZEOF_POLLFD + 6);
    });
  }

  get descriptors(): readonly number[] {
    return this.fds;
  }

  /** Blocks until a descriptor is ready or `timeoutMs` passes (-1: no limit). */
  wait(timeoutMs: number): number {
    const n = libc.poll(this.mem.ptr, this.fds.length, timeoutMs);
    return n < 0 ? 0 : n;
  }

  /** Whether entry i is ready (readable or writable as asked, hung up or failed) after the last wait(). */
  ready(i: number): boolean {
    return this.mem.view.readInt16LE(i * libc.SIZEOF_POLLFD + 6) !== 0;
  }
}
