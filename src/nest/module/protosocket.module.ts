import { type DynamicModule, type FactoryProvider, type InjectionToken, Module, type ModuleMetadata, type Provider } from '@nestjs/common';
import type { Codec } from '../../core/codec.js';
import type { RpcListenOptions, RpcServerSettings } from '../../rpc/server/options.js';
import type { RpcFrame } from '../../rpc/wire/frame.js';
import { jsonCodec } from '../../rpc/wire/json-codec.js';
import { ProtosocketClient } from '../client/protosocket.client.js';
import { PROTOSOCKET_CODEC, PROTOSOCKET_SERVER_OPTIONS } from '../constants.js';
import type { ProtosocketClientOptions, ProtosocketServerOptions } from '../options.js';
import { ProtosocketServer } from '../server/protosocket.server.js';

/** How to provide the codec: `{ useValue }`, `{ useClass }` or `{ useFactory, inject }`. */
export type CodecProvider<T> =
  | { useValue: T }
  | { useClass: new (...args: never[]) => T }
  | { useFactory: (...args: never[]) => T | Promise<T>; inject?: InjectionToken[] };

export interface ProtosocketRootOptions {
  /** The PROTOSOCKET_CODEC provider. Default: `{ useValue: jsonCodec }`. */
  codec?: CodecProvider<Codec<RpcFrame, RpcFrame>>;
  /** Also provide a `ProtosocketServer` built with these options and the PROTOSOCKET_CODEC provider. */
  server?: RpcListenOptions & Omit<RpcServerSettings, 'codec'>;
}

export type ProtosocketClientRegistration = ProtosocketClientOptions & {
  /** Token to inject the client by, besides the `ProtosocketClient` class. */
  name?: InjectionToken;
};

export interface ProtosocketClientAsyncRegistration extends Pick<ModuleMetadata, 'imports'> {
  name?: InjectionToken;
  inject?: InjectionToken[];
  useFactory: (...args: never[]) => ProtosocketClientOptions | Promise<ProtosocketClientOptions>;
}

const codecInjection = [{ token: PROTOSOCKET_CODEC, optional: true }];

/**
 * Registers the codec provider and clients.
 *
 *   ProtosocketModule.forRoot({ codec: { useValue: msgpackCodec } })
 *   ProtosocketModule.registerClient({ name: 'PRICES', port: 4000 })
 *
 * Clients and a container-built server take the codec from the PROTOSOCKET_CODEC provider
 * (JSON when none is registered), unless a client's own options name one.
 */
@Module({})
export class ProtosocketModule {
  static forRoot(options: ProtosocketRootOptions = {}): DynamicModule {
    const providers: Provider[] = [codecProvider(PROTOSOCKET_CODEC, options.codec ?? { useValue: jsonCodec })];
    const server = options.server;
    if (server !== undefined) {
      providers.push({ provide: PROTOSOCKET_SERVER_OPTIONS, useValue: server }, {
        provide: ProtosocketServer,
        useFactory: (serverOptions: ProtosocketServerOptions, codec?: Codec<RpcFrame, RpcFrame>) => new ProtosocketServer({ ...serverOptions, codec }),
        inject: [PROTOSOCKET_SERVER_OPTIONS, ...codecInjection],
      });
    }
    return {
      module: ProtosocketModule,
      global: true,
      providers,
      exports: providers.map((provider) => (provider as { provide: InjectionToken }).provide),
    };
  }

  static registerClient(registration: ProtosocketClientRegistration = {}): DynamicModule {
    const { name, ...options } = registration;
    return ProtosocketModule.clientModule(name, [], {
      provide: name ?? ProtosocketClient,
      useFactory: (codec?: Codec<RpcFrame, RpcFrame>) => createClient(options, codec),
      inject: codecInjection,
    });
  }

  static registerClientAsync(registration: ProtosocketClientAsyncRegistration): DynamicModule {
    const { name, imports = [], inject = [], useFactory } = registration;
    return ProtosocketModule.clientModule(name, imports, {
      provide: name ?? ProtosocketClient,
      useFactory: async (codec?: Codec<RpcFrame, RpcFrame>, ...args: unknown[]) =>
        createClient(await (useFactory as (...a: unknown[]) => ProtosocketClientOptions | Promise<ProtosocketClientOptions>)(...args), codec),
      inject: [...codecInjection, ...inject],
    });
  }

  private static clientModule(name: InjectionToken | undefined, imports: ModuleMetadata['imports'], provider: FactoryProvider): DynamicModule {
    const providers: Provider[] = [provider];
    if (name !== undefined && name !== ProtosocketClient) providers.push({ provide: ProtosocketClient, useExisting: name });
    return {
      module: ProtosocketModule,
      imports,
      providers,
      exports: providers.map((p) => (p as { provide: InjectionToken }).provide),
    };
  }
}

/** The client's own `codec` wins over the PROTOSOCKET_CODEC provider. */
function createClient(options: ProtosocketClientOptions, codec?: Codec<RpcFrame, RpcFrame>): ProtosocketClient {
  return new ProtosocketClient({ ...options, codec: options.codec ?? codec });
}

function codecProvider<T>(token: symbol, provider: CodecProvider<T>): Provider {
  return { provide: token, ...provider } as Provider;
}
