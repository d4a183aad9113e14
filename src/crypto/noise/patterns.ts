// Noise rev 34 handshake patterns used by sealtun: IK (§7.5) and its psk2
// variant (§9.4), as token lists.

/** §7.1 message tokens, plus `psk` from §9.1. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
/** Tokens allowed in pre-messages (§7.1). */
export type PreMessageToken = 'e' | 's';

export interface HandshakePattern {
  /** The pattern's name as it appears in the protocol name, modifiers included (§8). */
  readonly name: string;
  /** Pre-message of the initiator (`-> ...` above the `...` line). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Pre-message of the responder (`<- ...` above the `...` line). */
  readonly responderPreMessage: readonly PreMessageToken[];
  /** Handshake messages; even indices are sent by the initiator. */
  readonly messages: readonly (readonly Token[])[];
  /**
   * §9.2: with any psk modifier, every `e` token is followed by MixKey(e.pub),
   * on writing and on reading, not only the `psk` tokens do key mixing.
   */
  readonly hasPskModifier: boolean;
}

/**
 * §7.5 IK:
 *   <- s
 *   ...
 *   -> e, es, s, ss
 *   <- e, ee, se
 */
export const IK: HandshakePattern = Object.freeze<HandshakePattern>({
  name: 'IK',
  initiatorPreMessage: [],
  responderPreMessage: ['s'],
  messages: [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se'],
  ],
  hasPskModifier: false,
});

/**
 * §9.2 psk modifiers: `psk0` puts a `psk` token at the start of the first
 * message, `pskN` (N ≥ 1) at the end of the N-th message.
 */
export function withPsk(base: HandshakePattern, n: number): HandshakePattern {
  if (!Number.isInteger(n) || n < 0 || n > base.messages.length) {
    throw new RangeError(`psk${n} does not fit a pattern with ${base.messages.length} messages`);
  }
  const messages = base.messages.map((tokens, i): readonly Token[] => {
    if (n === 0 && i === 0) return ['psk', ...tokens];
    if (n >= 1 && i === n - 1) return [...tokens, 'psk'];
    return tokens;
  });
  // §8: a second modifier is joined to the first with '+'.
  const name = base.hasPskModifier ? `${base.name}+psk${n}` : `${base.name}psk${n}`;
  return Object.freeze({ ...base, name, messages, hasPskModifier: true });
}

/**
 * §9.4 IKpsk2:
 *   <- s
 *   ...
 *   -> e, es, s, ss
 *   <- e, ee, se, psk
 */
export const IKpsk2: HandshakePattern = withPsk(IK, 2);
