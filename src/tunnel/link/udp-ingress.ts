// The interface's UDP socket as the place handshake messages come in
// (peer/peer-set.ts Ingress), before they are known to be any peer's: a
// source is the datagram's sockaddr, and a cookie reply goes straight back
// to it from the main thread (a datagram is atomic, so it cannot interleave
// with the data path's sends on the same socket).
import * as libc from '../../sys/libc.js';
import type { Ingress } from '../peer/peer-set.js';

export function udpIngress(fd: number): Ingress {
  return {
    sourceOf: (source) => source,
    reply: (message, source) => {
      if (source) libc.sendto(fd, message, message.length, libc.MSG_DONTWAIT, source, source.length);
    },
  };
}
