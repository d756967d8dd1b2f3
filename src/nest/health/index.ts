// nestjs-protosocket/health: @nestjs/terminus indicators. Needs @nestjs/terminus.
export {
  ProtosocketHealthIndicator,
  type ProtosocketEndpointHealth,
  type ProtosocketPingCheckOptions,
  type ProtosocketPingDetails,
  type ProtosocketPingTarget,
  type ProtosocketReadyDetails,
  type ProtosocketServerReadiness,
} from './protosocket.health-indicator.js';
export { HealthCheckTimeoutError } from './health-check-timeout.error.js';
