import type { Driver } from './driver.js';

/** In report order: this transport through Nest, its RPC API, Nest's TCP transport, raw `net`. */
export const DRIVER_NAMES = ['nest-protosocket', 'rpc', 'nest-tcp', 'raw-net'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** How drivers are named in tables and charts. */
export const DRIVER_LABELS: Record<DriverName, string> = {
  'nest-protosocket': 'protosocket via Nest',
  rpc: 'protosocket RPC API',
  'nest-tcp': 'Nest TCP',
  'raw-net': 'raw net',
};

/** The references every figure is compared with. */
export const NEST_TCP: DriverName = 'nest-tcp';
export const RAW_NET: DriverName = 'raw-net';

export function isDriverName(value: string): value is DriverName {
  return (DRIVER_NAMES as readonly string[]).includes(value);
}

/** Loads a driver lazily, so a raw-net process never loads NestJS and an RPC one never loads rxjs. */
export async function loadDriver(name: DriverName): Promise<Driver> {
  switch (name) {
    case 'nest-protosocket':
      return (await import('../drivers/nest-protosocket.js')).driver;
    case 'rpc':
      return (await import('../drivers/rpc.js')).driver;
    case 'nest-tcp':
      return (await import('../drivers/nest-tcp.js')).driver;
    case 'raw-net':
      return (await import('../drivers/raw-net.js')).driver;
  }
}
