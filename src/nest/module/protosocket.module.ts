import { type DynamicModule, type FactoryProvider, type InjectionToken, Module, type ModuleMetadata, type Provider } from '@nestjs/common';
import type { Decoder, Encoder } from '../../core/codec.js';
import type { RpcFrame } from '../../rpc/wire/frame.js';
import { jsonDecoder, jsonEncoder } from '../../rpc/wire/json-codec.js';
import { ProtosocketClient } from '../client/protosocket.client.js';
import { PROTOSOCKET_DECODER, PROTOSOCKET_ENCODER, PROTOSOCKET_SERVER_OPTIONS } from '../constants.js';
import type { ProtosocketClientOptions, ProtosocketServerOptions } from '../options.js';
import { ProtosocketServer } from '../server/protosocket.server.js';

/** How to provide the encoder or decoder: `{ useValue }`, `{ useClass }` or `{ useFactory, inject }`. */
export type CodecProvider<T> =
  | { useValue: T }
  | { useClass: new (...args: never[]) => T }
  | { useFactory: (...args: never[]) => T | Promise<T>; inject?: InjectionToken[] };

export interface ProtosocketRootOptions {
  /** Default: `{ useValue: jsonEncoder }`. */
  encoder?: CodecProvider<Encoder<RpcFrame>>;
  /** Default: `{ useValue: jsonDecoder }`. */
  decoder?: CodecProvider<Decoder<RpcFrame>>;
  /** Also provide a `ProtosocketServer` built with these options and the codec providers. */
  server?: Omit<ProtosocketServerOptions, 'encoder' | 'decoder'>;
}

export interface ProtosocketClientRegistration extends ProtosocketClientOptions {
  /** Token to inject the client by, besides the `ProtosocketClient` class. */
  name?: InjectionToken;
}

export interface ProtosocketClientAsyncRegistration extends Pick<ModuleMetadata, 'imports'> {
  name?: InjectionToken;
  inject?: InjectionToken[];
  useFactory: (...args: never[]) => ProtosocketClientOptions | Promise<ProtosocketClientOptions>;
}

const codecInjection = [
  { token: PROTOSOCKET_ENCODER, optional: true },
  { token: PROTOSOCKET_DECODER, optional: true },
];

/**
 * Registers the codec providers and clients.
 *
 *   ProtosocketModule.forRoot({ decoder: { useClass: MyDecoder }, encoder: { useClass: MyEncoder } })
 *   ProtosocketModule.registerClient({ name: 'PRICES', port: 4000 })
 *
 * Clients and a container-built server take the encoder and decoder from the
 * PROTOSOCKET_ENCODER / PROTOSOCKET_DECODER providers (JSON when none is registered), unless
 * their own options name one.
 */
@Module({})
export class ProtosocketModule {
  static forRoot(options: ProtosocketRootOptions = {}): DynamicModule {
    const providers: Provider[] = [
      codecProvider(PROTOSOCKET_ENCODER, options.encoder ?? { useValue: jsonEncoder }),
      codecProvider(PROTOSOCKET_DECODER, options.decoder ?? { useValue: jsonDecoder }),
    ];
    const server = options.server;
    if (server !== undefined) {
      providers.push({ provide: PROTOSOCKET_SERVER_OPTIONS, useValue: server }, {
        provide: ProtosocketServer,
        useFactory: (serverOptions: ProtosocketServerOptions, encoder?: Encoder<RpcFrame>, decoder?: Decoder<RpcFrame>) =>
          new ProtosocketServer({ ...serverOptions, encoder, decoder }),
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
      useFactory: (encoder?: Encoder<RpcFrame>, decoder?: Decoder<RpcFrame>) => createClient(options, encoder, decoder),
      inject: codecInjection,
    });
  }

  static registerClientAsync(registration: ProtosocketClientAsyncRegistration): DynamicModule {
    const { name, imports = [], inject = [], useFactory } = registration;
    return ProtosocketModule.clientModule(name, imports, {
      provide: name ?? ProtosocketClient,
      useFactory: async (encoder?: Encoder<RpcFrame>, decoder?: Decoder<RpcFrame>, ...args: unknown[]) =>
        createClient(await (useFactory as (...a: unknown[]) => ProtosocketClientOptions | Promise<ProtosocketClientOptions>)(...args), encoder, decoder),
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

function createClient(options: ProtosocketClientOptions, encoder?: Encoder<RpcFrame>, decoder?: Decoder<RpcFrame>): ProtosocketClient {
  return new ProtosocketClient({ ...options, encoder: options.encoder ?? encoder, decoder: options.decoder ?? decoder });
}

function codecProvider<T>(token: symbol, provider: CodecProvider<T>): Provider {
  return { provide: token, ...provider } as Provider;
}
