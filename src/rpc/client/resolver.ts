import { lookup } from 'node:dns/promises';
import type { IpcEndpoint, TcpEndpoint } from '../../core/endpoint.js';
import { InvalidOptionError } from '../../core/errors.js';

/** A DNS name and the port its servers listen on: every A/AAAA address of the name is an endpoint. */
export interface DnsEndpoint {
  dns: string;
  port: number;
}

/**
 * One entry of the `endpoints` option or of a resolver's answer: `{ host, port }`, `{ path }`,
 * `'host:port'` (`'[::1]:4000'` for an IPv6 address), or `{ dns, port }`.
 */
export type EndpointSpec = TcpEndpoint | IpcEndpoint | DnsEndpoint | string;

/** Any discovery system: returns the endpoints; called again every `resolveIntervalMs` and after a connection fails. */
export type EndpointResolver = () => Promise<readonly EndpointSpec[]>;

/** A concrete address to dial, and the key that identifies it across resolutions. */
export interface ResolvedEndpoint {
  readonly key: string;
  readonly address: { readonly host: string; readonly port: number } | { readonly path: string };
}

/** Looks a name up to all its addresses (node's `dns.lookup` with `all: true`, the resolver the OS uses). */
export type LookupAll = (name: string) => Promise<readonly { address: string }[]>;

const lookupAll: LookupAll = (name) => lookup(name, { all: true });

/**
 * Where a client's endpoints come from. A fixed list (no DNS name in it) is known at once
 * and never changes; a list with DNS names, or a resolver function, is resolved when the
 * client first connects and again whenever the channel asks.
 */
export class EndpointSource {
  /** The endpoints, when known without resolving; undefined for a dynamic source. */
  readonly fixed: readonly ResolvedEndpoint[] | undefined;

  private constructor(
    private readonly specs: readonly EndpointSpec[] | undefined,
    private readonly resolver: EndpointResolver | undefined,
    private readonly lookup: LookupAll,
  ) {
    this.fixed = resolver === undefined && specs !== undefined && !specs.some(isDns) ? specs.map(fixedEndpoint) : undefined;
  }

  /** A source of the static entries `specs` (validated now). */
  static of(specs: readonly EndpointSpec[], lookup: LookupAll = lookupAll): EndpointSource {
    for (const spec of specs) validate(spec, 'endpoints');
    return new EndpointSource(specs, undefined, lookup);
  }

  /** The single `host`/`port` or `path` endpoint, as given (no validation: the connection attempt reports what is wrong). */
  static single(endpoint: TcpEndpoint | IpcEndpoint): EndpointSource {
    return new EndpointSource([endpoint], undefined, lookupAll);
  }

  /** A source that asks `resolver` each time. */
  static from(resolver: EndpointResolver, lookup: LookupAll = lookupAll): EndpointSource {
    return new EndpointSource(undefined, resolver, lookup);
  }

  get dynamic(): boolean {
    return this.fixed === undefined;
  }

  /** The endpoints now, deduplicated, in the answer's order. Rejects if the resolver or a DNS lookup fails. */
  async resolve(): Promise<ResolvedEndpoint[]> {
    if (this.fixed !== undefined) return [...this.fixed];
    const specs = this.resolver === undefined ? (this.specs as readonly EndpointSpec[]) : await this.resolver();
    const resolved = await Promise.all(
      specs.map(async (spec) => {
        validate(spec, 'resolver');
        if (!isDns(spec)) return [fixedEndpoint(spec)];
        const addresses = await this.lookup(spec.dns);
        return addresses.map(({ address }) => tcpEndpoint(address, spec.port));
      }),
    );
    const unique = new Map<string, ResolvedEndpoint>();
    for (const endpoint of resolved.flat()) if (!unique.has(endpoint.key)) unique.set(endpoint.key, endpoint);
    return [...unique.values()];
  }
}

function isDns(spec: EndpointSpec): spec is DnsEndpoint {
  return typeof spec === 'object' && 'dns' in spec;
}

function fixedEndpoint(spec: Exclude<EndpointSpec, DnsEndpoint>): ResolvedEndpoint {
  if (typeof spec === 'string') return parseHostPort(spec);
  if (spec.path !== undefined) return { key: spec.path, address: { path: spec.path } };
  return tcpEndpoint(spec.host ?? '127.0.0.1', spec.port ?? 0);
}

function tcpEndpoint(host: string, port: number): ResolvedEndpoint {
  return { key: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, address: { host, port } };
}

/** 'host:port', or '[v6]:port'. */
function parseHostPort(text: string): ResolvedEndpoint {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  let host = text.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return tcpEndpoint(host, port);
}

/** Throws ERR_INVALID_OPTION, naming `option`, for an entry no connection could be made to. */
function validate(spec: EndpointSpec, option: string): void {
  const bad = (why: string): never => {
    throw new InvalidOptionError(option, `${option}: ${why}`);
  };
  if (typeof spec === 'string') {
    const colon = spec.lastIndexOf(':');
    if (colon <= 0) bad(`'${spec}' is not 'host:port'`);
    if (!isPort(Number(spec.slice(colon + 1)))) bad(`'${spec}' has no valid port`);
    return;
  }
  if (typeof spec !== 'object' || spec === null) return bad(`${String(spec)} is not an endpoint`);
  if ('dns' in spec) {
    if (typeof spec.dns !== 'string' || spec.dns === '') bad('a DNS endpoint needs a name');
    if (!isPort(spec.port)) bad(`DNS endpoint ${spec.dns} needs a port (1-65535)`);
    return;
  }
  if (spec.path !== undefined) {
    if (typeof spec.path !== 'string' || spec.path === '') bad('an IPC endpoint needs a path');
    return;
  }
  if (!isPort(spec.port)) bad(`endpoint ${spec.host ?? '127.0.0.1'} needs a port (1-65535)`);
}

function isPort(port: unknown): boolean {
  return typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536;
}
