// A poll() set in native memory, for the workers' blocking waits.
import * as libc from '../sys/libc.js';

export class PollSet {
  private mem = libc.allocNative(libc.SIZEOF_POLLFD);
  private fds: number[] = [];

  constructor(fds: number[]) {
    this.set(fds);
  }

  /** Replaces the descriptors watched (all for POLLIN). */
  set(fds: number[]): void {
    this.fds = fds.slice();
    if (this.mem.view.length < fds.length * libc.SIZEOF_POLLFD) this.mem = libc.allocNative(fds.length * libc.SIZEOF_POLLFD);
    fds.forEach((fd, i) => {
      this.mem.view.writeInt32LE(fd, i * libc.SIZEOF_POLLFD);
      this.mem.view.writeInt16LE(libc.POLLIN, i * libc.SIZEOF_POLLFD + 4);
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

  /** Whether entry i became readable, hung up or failed in the last wait(). */
  readable(i: number): boolean {
    return this.mem.view.readInt16LE(i * libc.SIZEOF_POLLFD + 6) !== 0;
  }
}
