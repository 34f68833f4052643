/**
 * The schema of a `meshfed up` topology file (deploy/local/topology.yaml):
 * which zones run on this machine, which demo workloads and traffic each
 * zone has, which manifests (zones, tenants, policies) are applied, and
 * where Redis and NATS come from. One TypeBox definition: the types below
 * are derived from it, and the parser (topology.ts) validates against it.
 *
 * `errorMessage` on a schema is what the parser says when a value fails it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DNS1123_LABEL_PATTERN, Labels, Strict } from '../../core/schemas/common.js';
import { LOCATION_PATTERN } from '../../core/schemas/zone.js';

const DNS_LABEL_MESSAGE = 'must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)';
const label = (description: string) => Type.String({ pattern: DNS1123_LABEL_PATTERN, maxLength: 63, description, errorMessage: DNS_LABEL_MESSAGE });
const port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description, errorMessage: 'must be a port number (1-65535)' });

/** `<service>.<namespace>:<port>`, what a client calls. */
export const CALL_TARGET_PATTERN = '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):([0-9]{1,5})$';

export const TopologyService = Strict(
  {
    tenant: label('Tenant the service belongs to; must be placed in this zone (by a manifest).'),
    namespace: label('Namespace of the service.'),
    name: label('Service name: reached as <name>.<namespace>.mesh:<port>.'),
    port: port('Mesh port: where its sidecars listen (inbound) and callers dial (outbound).'),
    instances: Type.Integer({ minimum: 1, maximum: 20, description: 'Echo applications, each with its own sidecar.', errorMessage: 'must be a whole number from 1 to 20' }),
    tags: Type.Optional(Labels),
  },
  'Echo instances of one service in this zone: an HTTP application answering JSON {zone, tenant, service, instance, …} behind a sidecar each.',
);
export type TopologyService = Static<typeof TopologyService>;

export const TopologyClient = Strict(
  {
    tenant: label('Tenant of the client; must be placed in this zone.'),
    namespace: label('Namespace of the client.'),
    service: label('The client\'s own service (and service account): its identity is spiffe://<trust domain>/ns/<namespace>/sa/<service>.'),
    port: Type.Optional(port('Mesh port of the client\'s own inbound side; default 9000. Must differ from the port it calls.')),
    calls: Type.String({ pattern: CALL_TARGET_PATTERN, maxLength: 140, description: 'What the load generator calls through this client\'s sidecar: <service>.<namespace>:<port>.', errorMessage: 'must be <service>.<namespace>:<port>, e.g. echo.shop:8080' }),
    rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 500, description: 'Requests per second; default 20.', errorMessage: 'must be a number of requests per second above 0 and at most 500' })),
    path: Type.Optional(Type.String({ pattern: '^/[^\\s]*$', maxLength: 200, description: 'Request path; default /.', errorMessage: 'must be a path starting with /' })),
    tags: Type.Optional(Labels),
  },
  'A client workload with a sidecar, and a built-in load generator sending requests through that sidecar.',
);
export type TopologyClient = Static<typeof TopologyClient>;

export const TopologyZone = Strict(
  {
    name: label('Zone name.'),
    region: label('Region; must match the zone\'s registration when a manifest declares the zone.'),
    location: Type.Optional(Type.String({ pattern: LOCATION_PATTERN, maxLength: 128, description: 'provider:place; used only when no manifest declares the zone. Default local:<name>.', errorMessage: 'must be provider:place, e.g. dc:ams1' })),
    services: Type.Optional(Type.Array(TopologyService, { maxItems: 20 })),
    clients: Type.Optional(Type.Array(TopologyClient, { maxItems: 20 })),
  },
  'A zone run on this machine: a zone CP (universal discovery), its east-west ingress, and its demo workloads.',
);
export type TopologyZone = Static<typeof TopologyZone>;

export const Topology = Strict(
  {
    manifests: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 1024, errorMessage: 'must be a file path' }), {
        maxItems: 50,
        description: 'YAML files applied like `meshfedctl apply -f` (zones, tenants, policies), relative to this file.',
      }),
    ),
    globalCp: Type.Optional(Strict({ port: Type.Optional(port('Preferred port of the global CP API (default 5681); a free one is taken if it is busy.')) })),
    redis: Type.Optional(
      Strict({
        url: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$', maxLength: 1024, description: 'A running Redis to use; default: start redis-server in the data dir.', errorMessage: 'must be a redis:// or rediss:// URL' })),
        prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9:_.-]{1,64}$', description: 'Key prefix; default mf:.', errorMessage: 'must be 1-64 letters, digits or :_.-' })),
      }),
    ),
    nats: Type.Optional(
      Strict({
        url: Type.Optional(Type.String({ pattern: '^(nats|tls)://[^\\s]+$', maxLength: 1024, description: 'A running NATS with JetStream to use (no per-zone authorization then); default: start nats-server in the data dir.', errorMessage: 'must be a nats:// or tls:// URL' })),
      }),
    ),
    network: Type.Optional(
      Strict({
        loopbackPrefix: Type.Optional(
          Type.String({
            pattern: '^127\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$',
            description: 'First two octets of the loopback addresses workloads get: zone i\'s workloads are <prefix>.<i>.<n>, their sidecars\' outbound listeners <prefix>.<100+i>.<n>. Default 127.77.',
            errorMessage: 'must be "127.<0-255>", e.g. "127.77"',
          }),
        ),
      }),
    ),
    zones: Type.Array(TopologyZone, { maxItems: 99, description: 'Zones to run.' }),
  },
  'A local federation for `meshfed up`.',
);
export type Topology = Static<typeof Topology>;
