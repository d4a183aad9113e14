// The interface's UDP socket (and under auto, beside the TCP connections) as the place handshake messages come in
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

/** Transport = auto: a message with a UDP source came over the socket, one without over a TCP connection. */
export function autoIngress(udp: Ingress, tcp: Ingress): Ingress {
  const by = (source: Uint8Array | null) => (source ? udp : tcp);
  return {
    sourceOf: (source, fd) => by(source).sourceOf(source, fd),
    reply: (message, source, fd) => by(source).reply(message, source, fd),
    passedMac1: (source, fd) => by(source).passedMac1?.(source, fd),
    failedHandshake: (source, fd) => by(source).failedHandshake?.(source, fd),
  };
}
