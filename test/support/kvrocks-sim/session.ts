// Per-connection state Kvrocks keeps on its Connection object.

export interface Session {
  readonly id: number;
  /** Kvrocks's "namespace set": false until AUTH when a password is required. */
  authenticated: boolean;
  admin: boolean;
  /** READONLY: a replica may serve reads of its master's slots. */
  readonly: boolean;
  /** ASKING: the next command may touch a slot this node is importing. */
  asking: boolean;
  /** Set on the link a migrating source uses for CLUSTER IMPORT. */
  importing: boolean;
  name: string;
  closeAfterReply: boolean;
  /** Called when the connection closes (Kvrocks's close_cb on an importing link). */
  onClose: (() => void) | null;
}

let nextId = 1;

export const newSession = (): Session => ({
  id: nextId++,
  authenticated: false,
  admin: false,
  readonly: false,
  asking: false,
  importing: false,
  name: "",
  closeAfterReply: false,
  onClose: null,
});
