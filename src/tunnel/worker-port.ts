// A data-path worker's side of its port to the main thread: control
// messages in (pulled synchronously when the wake eventfd fires), reports
// out — muted while the warm-up runs (see warm-up.ts).
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import * as libc from '../sys/libc.js';
import type { FromWorker } from './worker-messages.js';

const wakeBuf = Buffer.alloc(8);

/** Clears the wake eventfd and applies each waiting control message; false once one says stop. */
export function takeMessages<T>(wakeFd: number, apply: (msg: T) => boolean): boolean {
  libc.read(wakeFd, wakeBuf, 8);
  for (let m = receiveMessageOnPort(parentPort!); m; m = receiveMessageOnPort(parentPort!)) {
    if (!apply(m.message as T)) return false;
  }
  return true;
}

let muted = false;

export function post(msg: FromWorker): void {
  if (!muted) parentPort!.postMessage(msg);
}

/** Runs `fn` with reports to the main thread dropped. */
export function muteWhile(fn: () => void): void {
  muted = true;
  try {
    fn();
  } finally {
    muted = false;
  }
}
