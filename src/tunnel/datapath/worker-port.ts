// A data-path worker's side of its port to the main thread: control
// messages in (pulled synchronously when the wake eventfd fires), reports
// out. While a warm-up rehearses the loop (warm-up.ts), reports are dropped
// and control messages come from the rehearsal's own channel.
import { MessageChannel, parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as libc from '../../sys/libc.js';
import type { FromWorker } from './worker-messages.js';

const wakeBuf = Buffer.alloc(8);
/** What wakes a worker's poll() through its eventfd: a count of 1 (written by datapath.ts, or a rehearsal). */
export const WAKE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** Where control messages are taken from: the main thread's port, or a rehearsal's channel. */
let controlPort: MessagePort | null = parentPort;
let muted = false;

/**
 * Clears the wake eventfd and applies each waiting control message; false
 * once one says stop. A message that throws is reported to the main thread
 * and skipped: the data path goes on (an exception here would end the
 * worker, and with it the tunnel).
 */
export function takeMessages<T extends { t: string }>(wakeFd: number, apply: (msg: T) => boolean): boolean {
  libc.read(wakeFd, wakeBuf, 8);
  const port = controlPort!;
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const msg = m.message as T;
    try {
      if (!apply(msg)) return false;
    } catch (err) {
      post({ t: 'error', message: `data path: control message '${msg.t}' failed: ${(err as Error).message}` });
    }
  }
  return true;
}

export function post(msg: FromWorker): void {
  if (!muted) parentPort!.postMessage(msg);
}

/** A rehearsal's stand-in for the main thread. */
export interface Rehearsal<T> {
  /** The wake eventfd for the rehearsed loop's poll(), in place of the real one. */
  readonly wakeFd: number;
  /** Posts a control message and wakes the loop, as the main thread does. */
  send(msg: T): void;
}

/**
 * Runs `fn` (a warm-up) as a rehearsal: reports to the main thread are
 * dropped, and control messages come from a channel and eventfd of the
 * rehearsal's own, so the loop takes them the way it takes real ones
 * (structured-cloned, through the wake descriptor) and that path is warm too.
 */
export function rehearse<T>(fn: (control: Rehearsal<T>) => void): void {
  const wakeFd = libc.check(libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK), 'eventfd');
  const channel = new MessageChannel();
  const real = { port: controlPort, muted };
  controlPort = channel.port2;
  muted = true;
  try {
    fn({
      wakeFd,
      send(msg: T): void {
        channel.port1.postMessage(msg);
        libc.write(wakeFd, WAKE, 8);
      },
    });
  } finally {
    controlPort = real.port;
    muted = real.muted;
    channel.port1.close();
    channel.port2.close();
    libc.close(wakeFd);
  }
}
