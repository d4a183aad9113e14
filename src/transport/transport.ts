// The transports sealtun carries its messages over.
//
// udp: one sealed message per datagram — no head-of-line blocking, the
//      inner TCP sees loss as loss (the recommended default).
// tcp: messages framed by a 2-byte length on one stream — passes firewalls
//      that only allow TCP, at the cost of TCP-over-TCP under loss.
// (Transport = auto in a config uses both, one at a time: see
// tunnel/auto-link.ts.)
export type TransportKind = 'udp' | 'tcp';
