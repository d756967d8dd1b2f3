import { EndpointSource } from '../../../src/rpc/client/resolver.js';

describe('EndpointSource', () => {
  it('a static list is known at once: host:port strings (IPv6 in brackets), TCP and IPC entries, deduplicated keys', async () => {
    const source = EndpointSource.of(['10.0.0.1:4000', '[::1]:4000', { host: 'db', port: 5 }, { path: '/tmp/s.sock' }]);
    expect(source.dynamic).toBe(false);
    expect(source.fixed?.map((endpoint) => endpoint.key)).toEqual(['10.0.0.1:4000', '[::1]:4000', 'db:5', '/tmp/s.sock']);
    expect(source.fixed?.[1]?.address).toEqual({ host: '::1', port: 4000 });
    expect(await source.resolve()).toEqual(source.fixed);
  });

  it('a DNS entry is every address the lookup returns, deduplicated', async () => {
    const source = EndpointSource.of([{ dns: 'quotes', port: 4000 }, '10.0.0.1:4000'], async () => [{ address: '10.0.0.1' }, { address: 'fd00::2' }]);
    expect(source.dynamic).toBe(true);
    expect((await source.resolve()).map((endpoint) => endpoint.key)).toEqual(['10.0.0.1:4000', '[fd00::2]:4000']);
  });

  it('a resolver is asked each time, and what it returns is checked', async () => {
    let answer: unknown[] = ['10.0.0.1:1'];
    const source = EndpointSource.from(async () => answer as string[]);
    expect((await source.resolve()).map((endpoint) => endpoint.key)).toEqual(['10.0.0.1:1']);
    answer = ['10.0.0.2:2', '10.0.0.3:3'];
    expect(await source.resolve()).toHaveLength(2);
    answer = ['10.0.0.2'];
    await expect(source.resolve()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', option: 'resolver' });
  });

  it.each([['no port'], ['host:'], ['host:70000'], [':80']])('refuses %j', (entry) => {
    expect(() => EndpointSource.of([entry])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'endpoints' }));
  });
});
