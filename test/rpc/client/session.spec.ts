import { ConnectionClosedError } from '../../../src/core/errors.js';
import { ClientSession, type RpcConnection, type SessionEvents } from '../../../src/rpc/client/session.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';

/** A connection that refuses every send, as one that is closing does. */
function refusingConnection(): { conn: RpcConnection; sent: RpcFrame[]; destroyedWith: (Error | undefined)[] } {
  const sent: RpcFrame[] = [];
  const destroyedWith: (Error | undefined)[] = [];
  const conn = {
    state: 'closing',
    send(frame: RpcFrame): boolean {
      sent.push(frame);
      throw new ConnectionClosedError('cannot send: connection is closing');
    },
    destroy(reason?: Error): void {
      destroyedWith.push(reason);
    },
  };
  return { conn: conn as unknown as RpcConnection, sent, destroyedWith };
}

/** Session events that report GoAway to `onGoAway` and never reroute. */
function events(onGoAway: (session: ClientSession) => void = () => {}): SessionEvents {
  return { onGoAway, reroute: () => false };
}

describe('ClientSession', () => {
  it('is built with its connection', () => {
    const { conn } = refusingConnection();
    const session = new ClientSession(conn, 0, events());
    expect(session.conn).toBe(conn);
    expect(session.usable).toBe(false);
    expect(session.toldToGoAway).toBe(false);
  });

  it('does not answer a Ping while its connection is closing: nothing is sent, nothing thrown, the connection is not destroyed', () => {
    const { conn, sent, destroyedWith } = refusingConnection();
    const session = new ClientSession(conn, 0, events());
    expect(() => session.onMessage({ id: 7, code: ControlCode.Ping })).not.toThrow();
    expect(sent).toEqual([]);
    expect(destroyedWith).toEqual([]);
  });

  it('answers a Ping it cannot send on an open connection without throwing into the reactor: the connection is destroyed with the send error', () => {
    const { conn, sent, destroyedWith } = refusingConnection();
    (conn as unknown as { state: string }).state = 'open';
    const session = new ClientSession(conn, 0, events());
    expect(() => session.onMessage({ id: 7, code: ControlCode.Ping })).not.toThrow();
    expect(sent).toEqual([{ id: 7, code: ControlCode.Pong }]);
    expect(destroyedWith).toHaveLength(1);
    expect(destroyedWith[0]).toBeInstanceOf(ConnectionClosedError);
  });

  it('proves its connection with the first frame from the server, not by opening', async () => {
    const { conn } = refusingConnection();
    (conn as unknown as { state: string }).state = 'open';
    const session = new ClientSession(conn, 0, events());
    let proven = false;
    void session.proven.then(() => (proven = true));
    await Promise.resolve();
    expect(proven).toBe(false);
    session.onMessage({ id: 1, code: ControlCode.Pong });
    await session.proven;
    expect(proven).toBe(true);
    session.onClose(undefined);
  });

  it('GoAway: the session takes no new calls and tells its owner', () => {
    const { conn } = refusingConnection();
    (conn as unknown as { state: string }).state = 'open';
    const retired: ClientSession[] = [];
    const session = new ClientSession(conn, 0, events((s) => retired.push(s)));
    expect(session.usable).toBe(true);
    session.onMessage({ id: 0, code: ControlCode.GoAway });
    expect(session.usable).toBe(false);
    expect(session.toldToGoAway).toBe(true);
    expect(retired).toEqual([session]);
  });

  it('goAwayLastId: undefined until GoAway, then its id; a second GoAway may only lower it and tells no one', () => {
    const { conn } = refusingConnection();
    (conn as unknown as { state: string }).state = 'open';
    const retired: ClientSession[] = [];
    const session = new ClientSession(conn, 0, events((s) => retired.push(s)));
    expect(session.goAwayLastId).toBeUndefined();
    session.onMessage({ id: 7, code: ControlCode.GoAway });
    expect(session.goAwayLastId).toBe(7);
    session.onMessage({ id: 9, code: ControlCode.GoAway });
    expect(session.goAwayLastId).toBe(7);
    session.onMessage({ id: 4, code: ControlCode.GoAway });
    expect(session.goAwayLastId).toBe(4);
    expect(retired).toEqual([session]);
  });
});
