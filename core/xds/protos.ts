import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

/**
 * Envoy's v3 protos, loaded from the files the @grpc/grpc-js-xds package
 * ships (never copied into this repo), with the include paths it uses itself.
 */
const require = createRequire(import.meta.url);
const XDS_PACKAGE_ROOT = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
export const ENVOY_PROTO_INCLUDE_DIRS = [
  ...['deps/envoy-api', 'deps/xds', 'deps/googleapis', 'deps/protoc-gen-validate'].map((d) => join(XDS_PACKAGE_ROOT, d)),
  // google/protobuf/descriptor.proto and friends, which protobufjs ships but does not preload.
  dirname(require.resolve('protobufjs/package.json')),
];

/** Every proto meshfed's xDS resources are made of. */
export const ENVOY_PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
export type ResourceType = keyof typeof TYPE_URL;
export const RESOURCE_TYPES = Object.keys(TYPE_URL) as ResourceType[];

let root: protobuf.Root | undefined;

/** The protobufjs root with every Envoy type meshfed uses, field names as in the .proto files (snake_case). */
export function envoyRoot(): protobuf.Root {
  if (!root) {
    const loaded = new protobuf.Root();
    loaded.resolvePath = (_origin, target) => {
      for (const dir of ENVOY_PROTO_INCLUDE_DIRS) {
        const candidate = join(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return target;
    };
    loaded.loadSync(ENVOY_PROTO_FILES, { keepCase: true });
    loaded.resolveAll();
    root = loaded;
  }
  return root;
}

/** A resource as generation produces it: proto3 field names, nested Anys written as `{ '@type': typeUrl, ...fields }`. */
export type ResourceObject = Record<string, unknown>;

export interface EncodedAny {
  type_url: string;
  value: Buffer;
}

/**
 * Encodes a generated resource into the Any a DiscoveryResponse carries.
 * Throws, naming the field, when the object does not fit the proto: that is
 * a generation bug that must not reach a proxy.
 */
export function encodeResource(typeUrl: string, object: ResourceObject): EncodedAny {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const message = type.fromObject(object);
  const problem = type.verify(message);
  if (problem) throw new Error(`${type.fullName}: ${problem}`);
  return { type_url: typeUrl, value: Buffer.from(type.encode(message).finish()) };
}

/** Decodes an Any back into a plain object (for config dumps and tests). */
export function decodeResource(any: EncodedAny): Record<string, unknown> {
  const type = envoyRoot().lookupType(any.type_url.slice(any.type_url.lastIndexOf('/') + 1));
  return type.toObject(type.decode(any.value), { longs: String, enums: String, defaults: false, oneofs: true, json: true });
}
