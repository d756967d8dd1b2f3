import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { firstValueFrom } from 'rxjs';
import { u32 } from '../helpers/frames.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { CapturingLogger, useResources } from './fixtures/harness.js';

const tlsFixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));

/** A frame whose length field announces fewer bytes than the envelope's fixed header: a protocol error. */
const MALFORMED_FRAME = Buffer.concat([u32(2), Buffer.from([0, 0])]);

/**
 * Peer faults on the server are logged through Nest's Logger as warnings naming the peer and
 * the code, rate-limited, and counted in `server.connectionErrors`. (Transport.TCP logs a bad
 * packet as an ERROR without the peer and counts nothing: a deliberate difference.)
 */
describe('ProtosocketServer diagnostics (§3)', () => {
  const res = useResources();

  it('a protocol error: warned with the peer address and ERR_PROTOCOL, counted; other clients are unaffected', async () => {
    const logger = new CapturingLogger();
    const { port, server } = await res.microservice({ logger });
    const peer = await rawPeer(port);
    res.add(() => peer.destroy());
    const peerPort = peer.localPort;
    peer.write(MALFORMED_FRAME);
    const line = await logger.whenWarning('ERR_PROTOCOL');
    expect(line).toContain(`127.0.0.1:${peerPort}`);
    expect(server.connectionErrors).toEqual({ ERR_PROTOCOL: 1 });
    expect(logger.errors).toEqual([]);
    await expect(firstValueFrom(res.client(port).send({ cmd: 'sum' }, [1, 2]))).resolves.toBe(3);
  });

  it('a frame stalled mid-way: warned as ERR_FRAME_TIMEOUT and counted', async () => {
    const logger = new CapturingLogger();
    const { port, server } = await res.microservice({ logger, server: { limits: { frameTimeoutMs: 50 } } });
    const peer = await rawPeer(port);
    res.add(() => peer.destroy());
    peer.write(u32(100));
    await expect(logger.whenWarning('ERR_FRAME_TIMEOUT')).resolves.toContain('127.0.0.1:');
    await whenClosed(peer);
    expect(server.connectionErrors.ERR_FRAME_TIMEOUT).toBe(1);
  });

  it('an oversized frame: warned as ERR_FRAME_TOO_LARGE with the peer address, counted', async () => {
    const logger = new CapturingLogger();
    const { port, server } = await res.microservice({ logger, server: { limits: { maxFrameBytes: 1024 } } });
    const peer = await rawPeer(port);
    res.add(() => peer.destroy());
    peer.write(u32(1024 * 1024));
    await expect(logger.whenWarning('ERR_FRAME_TOO_LARGE')).resolves.toContain('127.0.0.1:');
    expect(server.connectionErrors.ERR_FRAME_TOO_LARGE).toBe(1);
  });

  it('a failed TLS handshake: warned as ERR_TLS_HANDSHAKE with the peer address, counted', async () => {
    const logger = new CapturingLogger();
    const { port, server } = await res.microservice({ logger, server: { tls: { key: tlsFixture('server.key'), cert: tlsFixture('server.crt') } } });
    const peer = await rawPeer(port);
    res.add(() => peer.destroy());
    peer.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await expect(logger.whenWarning('ERR_TLS_HANDSHAKE')).resolves.toContain('127.0.0.1:');
    expect(server.connectionErrors.ERR_TLS_HANDSHAKE).toBe(1);
  });

  it('a flood of bad peers: every one counted, at most 10 warnings', async () => {
    const logger = new CapturingLogger();
    const { port, server } = await res.microservice({ logger });
    for (let i = 0; i < 15; i++) {
      const peer = await rawPeer(port);
      res.add(() => peer.destroy());
      peer.write(MALFORMED_FRAME);
      await whenClosed(peer);
    }
    // The last peer's close and its count happen in the same turn on the server; a round trip orders after both.
    await expect(firstValueFrom(res.client(port).send({ cmd: 'sum' }, [1]))).resolves.toBe(1);
    expect(server.connectionErrors.ERR_PROTOCOL).toBe(15);
    expect(logger.warnings.filter((line) => line.includes('ERR_PROTOCOL'))).toHaveLength(10);
  });
});
