import 'reflect-metadata';
import { ClientsModule } from '@nestjs/microservices';
import { InvalidOptionError, ProtosocketClient, type ProtosocketClientOptions, ProtosocketServer, type ProtosocketServerOptions } from '../../src/nest/index.js';
import { thrownBy } from '../helpers/errors.js';

// ClientsModule's options are untyped: these are what a migrating user's code passes.
const client = (options: Record<string, unknown>) => () => new ProtosocketClient(options as ProtosocketClientOptions);
const server = (options: Record<string, unknown>) => () => new ProtosocketServer(options as ProtosocketServerOptions);

function refusal(build: () => unknown): InvalidOptionError {
  const error = thrownBy(build);
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).code).toBe('ERR_INVALID_OPTION');
  return error as InvalidOptionError;
}

describe('options are validated at construction (§2 migration safety)', () => {
  it('an unknown client option is refused, named, with the options it takes', () => {
    const error = refusal(client({ port: 1, prot: 2 }));
    expect(error.option).toBe('prot');
    expect(error.message).toContain('`prot`');
    expect(error.message).toContain('port');
  });

  it.each([
    ['retryAttempts', 'reconnect'],
    ['retryDelay', 'reconnect'],
    ['maxBufferSize', 'limits: { maxFrameBytes }'],
    ['incompleteMessageTimeout', 'limits: { frameTimeoutMs }'],
    ['maxSendBufferSize', 'limits: { maxQueuedBytes }'],
    ['socketClass', 'codec'],
  ])('the Transport.TCP client option %s is refused with its protosocket equivalent (%s)', (option, equivalent) => {
    const error = refusal(client({ port: 1, [option]: 1 }));
    expect(error.option).toBe(option);
    expect(error.message).toContain('Transport.TCP');
    expect(error.message).toContain(equivalent);
  });

  it.each(['retryAttempts', 'retryDelay'])('the Transport.TCP server option %s is refused as having no equivalent', (option) => {
    expect(refusal(server({ [option]: 3 })).message).toContain('no equivalent');
  });

  it('an unknown server option is refused, and the RPC hooks are the strategy\'s own', () => {
    expect(refusal(server({ maxConcurentCalls: 3 })).option).toBe('maxConcurentCalls');
    expect(refusal(server({ resolveHandler: () => undefined })).option).toBe('resolveHandler');
  });

  it('tlsOptions is taken as tls; giving both is refused', () => {
    expect(() => new ProtosocketClient({ port: 1, tlsOptions: { ca: 'x' } } as ProtosocketClientOptions)).not.toThrow();
    expect(() => new ProtosocketServer({ tlsOptions: { key: 'x', cert: 'y' } } as ProtosocketServerOptions)).not.toThrow();
    expect(refusal(client({ port: 1, tls: {}, tlsOptions: {} })).option).toBe('tlsOptions');
  });

  it('an option whose value is undefined is ignored (nothing is dropped)', () => {
    expect(() => new ProtosocketClient({ port: 1, tlsOptions: undefined } as ProtosocketClientOptions)).not.toThrow();
  });

  it('a client with neither port nor path fails at construction', () => {
    expect(refusal(client({ host: '127.0.0.1' })).message).toMatch(/port.*path/);
    expect(() => new ProtosocketClient({ path: '/tmp/x.sock' })).not.toThrow();
  });

  it('a client with neither port, path, endpoints nor resolver fails at construction; any one of them is enough', () => {
    expect(refusal(client({ host: '127.0.0.1', balancer: 'round-robin' })).message).toMatch(/port.*path.*endpoints.*resolver/);
    expect(() => new ProtosocketClient({ endpoints: ['127.0.0.1:1', '127.0.0.2:1'] })).not.toThrow();
    expect(() => new ProtosocketClient({ endpoints: { dns: 'localhost', port: 1 } })).not.toThrow();
    expect(() => new ProtosocketClient({ resolver: async () => ['127.0.0.1:1'] })).not.toThrow();
  });

  it('the several-servers options are known keys; a misspelling of one is refused, named', () => {
    const options = { endpoints: ['127.0.0.1:1'], balancer: 'pick-first', connectionsPerEndpoint: 2, resolveIntervalMs: 1000 };
    expect(() => new ProtosocketClient(options as ProtosocketClientOptions)).not.toThrow();
    expect(() => new ProtosocketClient({ resolver: async () => [], resolveIntervalMs: 500 })).not.toThrow();
    expect(refusal(client({ endpoint: ['127.0.0.1:1'] })).option).toBe('endpoint');
    expect(refusal(client({ endpoints: ['127.0.0.1:1'], connectionsPerEndPoint: 2 })).option).toBe('connectionsPerEndPoint');
  });

  it.each([['waitForReady', false], ['affinityKey', 'user-1'], ['retry', { attempts: 3 }]])('%s is an option of each call: on the client it is refused with where it goes', (option, value) => {
    const error = refusal(client({ endpoints: ['127.0.0.1:1'], [option]: value }));
    expect(error.option).toBe(option);
    expect(error.message).toContain(`send(pattern, data, { ${option} })`);
  });

  it('the RPC client\'s own checks still apply under Nest: a mix of forms, a bad balancer', () => {
    expect(refusal(client({ port: 1, endpoints: ['127.0.0.1:1'] })).option).toBe('endpoints');
    expect(refusal(client({ endpoints: ['127.0.0.1:1'], balancer: 'random' })).option).toBe('balancer');
  });

  it('through ClientsModule.register({ customClass }), a bad option fails where the module is declared', () => {
    const register = () => ClientsModule.register([{ name: 'BAD', customClass: ProtosocketClient, options: { port: 1, maxBufferSize: 10 } }]);
    expect(refusal(register).option).toBe('maxBufferSize');
  });
});
