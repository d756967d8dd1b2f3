import { ControlCode } from '../../../src/rpc/index.js';
import { endsCall, isControlCode, refusedFromClient, refusedFromServer, sentByClient, sentByServer } from '../../../src/rpc/wire/control-code.js';

// docs/PROTOCOL.md §5, row by row: who sends each code, which ones end a call, and which ones
// a receiver refuses (a protocol error) when they come from the wrong peer.
describe('control codes', () => {
  const { Normal, Cancel, End, Reply, Error, Event, Ping, Pong, GoAway, Credit } = ControlCode;
  const all = Object.values(ControlCode);
  const matching = (predicate: (code: ControlCode) => boolean): ControlCode[] => all.filter(predicate);

  it('are 0..9, and nothing else is one', () => {
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const code of all) expect(isControlCode(code)).toBe(true);
    for (const value of [-1, 10, 255, 1.5, Number.NaN, '1', null, undefined]) expect(isControlCode(value)).toBe(false);
  });

  it('say who sends them', () => {
    expect(matching(sentByClient)).toEqual([Normal, Cancel, Event, Ping, Pong, Credit]);
    expect(matching(sentByServer)).toEqual([Normal, Cancel, End, Reply, Error, Ping, Pong, GoAway]);
  });

  it('say which ones a receiver refuses from the wrong peer (End from a client is ignored instead)', () => {
    expect(matching(refusedFromClient)).toEqual([Reply, Error, GoAway]);
    expect(matching(refusedFromServer)).toEqual([Event, Credit]);
  });

  it('say which ones end a call', () => {
    expect(matching(endsCall)).toEqual([Cancel, End, Reply, Error]);
  });
});
