// Packet slots in native memory, shared by the TUN reads, the crypto and the
// batched socket calls so a packet is written once and never copied.
//
// Slot layout (bytes):
//   [0, 2)              room for the TCP transport's length prefix
//   [2, 2 + 16)         data message header, written by the sealer
//   [18, 18 + n)        the IP packet, read from the TUN in place
//   [18 + n, 34 + n)    AEAD tag
import { allocNative, type Pointer } from '../sys/libc.js';

/** Messages moved per syscall batch; sendmmsg/recvmmsg accept up to 1024, 64 was measured best here. */
export const BATCH_SIZE = 64;
/** Offset of the wire message inside a slot (after the TCP length prefix). */
export const MSG_OFFSET = 2;

export class PacketBatch {
  readonly ptr: Pointer;
  readonly memory: Buffer;
  /** slots[i]: the whole slot i. */
  readonly slots: Buffer[] = [];
  /** messages[i]: slot i from MSG_OFFSET on (what the wire carries). */
  readonly messages: Buffer[] = [];
  readonly slotPtrs: Pointer[] = [];
  /** Length of the wire message in each slot. */
  readonly lens: Int32Array;
  /** Where `tailBytes` more of the same memory start, after the slots (an offset into `memory`, and its address). */
  readonly tailAt: number;
  readonly tailPtr: Pointer;

  /**
   * `tailBytes`: room after the slots for a buffer that is copied into them,
   * so those copies stay inside one ArrayBuffer (copyWithin: no view made per copy).
   */
  constructor(
    readonly slotBytes: number,
    readonly size: number = BATCH_SIZE,
    tailBytes = 0,
  ) {
    // Round slots to 64 bytes so each starts on its own cache line.
    const stride = Math.ceil(slotBytes / 64) * 64;
    const { ptr, view } = allocNative(stride * size + tailBytes);
    this.tailAt = stride * size;
    this.tailPtr = ptr + BigInt(this.tailAt);
    this.ptr = ptr;
    this.memory = view;
    this.lens = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const slot = view.subarray(i * stride, i * stride + slotBytes);
      this.slots.push(slot);
      this.messages.push(slot.subarray(MSG_OFFSET));
      this.slotPtrs.push(ptr + BigInt(i * stride));
    }
  }
}
