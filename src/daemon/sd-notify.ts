// sd_notify(3) without libsystemd: a `Type=notify` unit learns that the
// tunnel is up from one datagram, "READY=1", sent to the AF_UNIX socket
// systemd names in $NOTIFY_SOCKET. Sent from the daemon itself (its main
// pid) rather than by running `systemd-notify --ready`: systemd attributes a
// message by the sender's pid, so a helper process needs NotifyAccess=all and
// races its own exit (systemd may read the datagram after the helper is gone
// and drop it as from an unknown process).
import * as libc from '../sys/libc.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): a 2-byte family, then sun_path[108]. */
const SUN_PATH_MAX = 108;

/** struct sockaddr_un for `path`, with its length; a leading "@" is the abstract namespace (a NUL byte). */
export function unixAddress(path: string): { addr: Buffer; len: number } {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? `\0${path.slice(1)}` : `${path}\0`);
  if (name.length > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET ${path}: longer than ${SUN_PATH_MAX - 1} bytes`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length };
}

export class SystemdNotifier {
  private constructor(private readonly socketPath: string | null) {}

  /**
   * Takes $NOTIFY_SOCKET out of `env` (as sd_notify's unset_environment
   * does), so the commands the daemon runs (`ip`, hooks) cannot speak for it.
   * Without it (not started by a Type=notify unit) every call does nothing.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
    const path = env['NOTIFY_SOCKET'] || null;
    delete env['NOTIFY_SOCKET'];
    return new SystemdNotifier(path);
  }

  /** The tunnel is up: systemd finishes `start` and starts the units ordered after this one. */
  ready(): string | null {
    return this.send('READY=1');
  }

  stopping(): string | null {
    return this.send('STOPPING=1');
  }

  /**
   * One datagram with `state` (newline-separated VAR=value lines). A failure
   * is returned, not thrown: a tunnel that runs must not stop because its
   * supervisor could not be told (systemd then times the start out itself).
   */
  send(state: string): string | null {
    if (this.socketPath === null) return null;
    let fd = -1;
    try {
      const { addr, len } = unixAddress(this.socketPath);
      fd = libc.check(libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket(AF_UNIX)');
      const msg = Buffer.from(state);
      libc.check(libc.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, len), `sendto(${this.socketPath})`);
      return null;
    } catch (err) {
      return `could not notify systemd (${state.split('\n')[0]}): ${(err as Error).message}`;
    } finally {
      if (fd >= 0) libc.close(fd);
    }
  }
}
