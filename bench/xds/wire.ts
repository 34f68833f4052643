/**
 * Just enough protobuf for a lean ADS client: encode a DiscoveryRequest,
 * and read from a DiscoveryResponse its version, nonce, type URL and the
 * resources' bytes — and from listeners and clusters only the names a
 * proxyless gRPC client (or Envoy) would subscribe RDS and EDS with. Hand-
 * written so the client process spends its CPU on the protocol, not on
 * decoding full Envoy messages it would throw away.
 */
import protobuf from 'protobufjs';

const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;

/** Calls `onField` for every field of the message in buf[start, end). Length-delimited values come as [valueStart, valueEnd). */
export function forEachField(buf: Uint8Array, start: number, end: number, onField: (field: number, wire: number, valueStart: number, valueEnd: number, varint: number) => void): void {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new Error('truncated varint');
      const byte = buf[pos++]!;
      // Beyond 2^53 precision is lost; only lengths and small enums are read as numbers here.
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    switch (wire) {
      case WIRE_VARINT: {
        const value = varint();
        onField(field, wire, pos, pos, value);
        break;
      }
      case WIRE_64:
        onField(field, wire, pos, pos + 8, 0);
        pos += 8;
        break;
      case WIRE_LEN: {
        const length = varint();
        const valueStart = pos;
        pos += length;
        if (pos > end) throw new Error('truncated length-delimited field');
        onField(field, wire, valueStart, pos, 0);
        break;
      }
      case WIRE_32:
        onField(field, wire, pos, pos + 4, 0);
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

const utf8 = (buf: Uint8Array, start: number, end: number) => Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');

export interface ResourceSpan {
  typeUrl: string;
  start: number;
  end: number;
}

export interface ParsedResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** The response's bytes (resources are spans of it). */
  buf: Buffer;
  resources: ResourceSpan[];
}

/** envoy.service.discovery.v3.DiscoveryResponse: version_info 1, resources 2 (Any: type_url 1, value 2), type_url 4, nonce 5. */
export function parseResponse(buf: Buffer): ParsedResponse {
  const out: ParsedResponse = { versionInfo: '', typeUrl: '', nonce: '', buf, resources: [] };
  forEachField(buf, 0, buf.length, (field, wire, s, e) => {
    if (wire !== WIRE_LEN) return;
    if (field === 1) out.versionInfo = utf8(buf, s, e);
    else if (field === 4) out.typeUrl = utf8(buf, s, e);
    else if (field === 5) out.nonce = utf8(buf, s, e);
    else if (field === 2) {
      const span: ResourceSpan = { typeUrl: '', start: 0, end: 0 };
      forEachField(buf, s, e, (f, w, vs, ve) => {
        if (w !== WIRE_LEN) return;
        if (f === 1) span.typeUrl = utf8(buf, vs, ve);
        else if (f === 2) [span.start, span.end] = [vs, ve];
      });
      out.resources.push(span);
    }
  });
  return out;
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** An Any at buf[s, e): its type URL and value span. */
function readAny(buf: Uint8Array, s: number, e: number): ResourceSpan {
  const any: ResourceSpan = { typeUrl: '', start: 0, end: 0 };
  forEachField(buf, s, e, (f, w, vs, ve) => {
    if (w !== WIRE_LEN) return;
    if (f === 1) any.typeUrl = utf8(buf, vs, ve);
    else if (f === 2) [any.start, any.end] = [vs, ve];
  });
  return any;
}

/** HttpConnectionManager: rds 3 (Rds: route_config_name 2). */
function hcmRouteName(buf: Uint8Array, s: number, e: number, names: string[]): void {
  forEachField(buf, s, e, (f, w, vs, ve) => {
    if (f !== 3 || w !== WIRE_LEN) return;
    forEachField(buf, vs, ve, (rf, rw, rs, re) => {
      if (rf === 2 && rw === WIRE_LEN) names.push(utf8(buf, rs, re));
    });
  });
}

/**
 * The RDS names a listener refers to: api_listener 19 (ApiListener.api_listener 1, an Any) for proxyless
 * clients; filter_chains 3 → filters 3 → typed_config 4 for Envoy listeners. Listener.name is field 1.
 */
export function listenerRouteNames(buf: Uint8Array, s: number, e: number, names: string[]): void {
  forEachField(buf, s, e, (f, w, vs, ve) => {
    if (w !== WIRE_LEN) return;
    if (f === 19) {
      forEachField(buf, vs, ve, (af, aw, as, ae) => {
        if (af !== 1 || aw !== WIRE_LEN) return;
        const any = readAny(buf, as, ae);
        if (any.typeUrl === HCM_TYPE) hcmRouteName(buf, any.start, any.end, names);
      });
    } else if (f === 3) {
      forEachField(buf, vs, ve, (cf, cw, cs, ce) => {
        if (cf !== 3 || cw !== WIRE_LEN) return;
        forEachField(buf, cs, ce, (ff, fw, fs, fe) => {
          if (ff !== 4 || fw !== WIRE_LEN) return;
          const any = readAny(buf, fs, fe);
          if (any.typeUrl === HCM_TYPE) hcmRouteName(buf, any.start, any.end, names);
        });
      });
    }
  });
}

/** Field 1 of a resource: the name of a RouteConfiguration, the cluster_name of a ClusterLoadAssignment. */
export function firstStringField(buf: Uint8Array, s: number, e: number): string {
  let name = '';
  forEachField(buf, s, e, (f, w, vs, ve) => {
    if (f === 1 && w === WIRE_LEN && !name) name = utf8(buf, vs, ve);
  });
  return name;
}

const CLUSTER_TYPE_EDS = 3;

/** The EDS name of a cluster (eds_cluster_config 3 → service_name 2, else the cluster's name 1), if it is an EDS cluster (type 2). */
export function clusterEdsName(buf: Uint8Array, s: number, e: number): string | undefined {
  let name = '';
  let serviceName = '';
  let type = 0;
  forEachField(buf, s, e, (f, w, vs, ve, varint) => {
    if (f === 1 && w === WIRE_LEN) name = utf8(buf, vs, ve);
    else if (f === 2 && w === WIRE_VARINT) type = varint;
    else if (f === 3 && w === WIRE_LEN) {
      forEachField(buf, vs, ve, (ef, ew, es, ee) => {
        if (ef === 2 && ew === WIRE_LEN) serviceName = utf8(buf, es, ee);
      });
    }
  });
  return type === CLUSTER_TYPE_EDS ? serviceName || name : undefined;
}

export interface RequestNode {
  id: string;
  cluster: string;
  locality: { region: string; zone: string; subZone?: string };
  /** Node metadata: string values only. */
  metadata: Record<string, string>;
  userAgentName: string;
}

export interface Request {
  versionInfo: string;
  node?: RequestNode;
  resourceNames: readonly string[];
  typeUrl: string;
  responseNonce: string;
}

/** envoy.service.discovery.v3.DiscoveryRequest: version_info 1, node 2, resource_names 3, type_url 4, response_nonce 5. */
export function encodeRequest(request: Request): Buffer {
  const w = protobuf.Writer.create();
  const str = (field: number, value: string) => {
    if (value) w.uint32((field << 3) | WIRE_LEN).string(value);
  };
  str(1, request.versionInfo);
  if (request.node) {
    const node = request.node;
    w.uint32((2 << 3) | WIRE_LEN).fork();
    str(1, node.id);
    str(2, node.cluster);
    // metadata 3: google.protobuf.Struct { map<string, Value> fields = 1 }, Value.string_value = 3.
    w.uint32((3 << 3) | WIRE_LEN).fork();
    for (const [key, value] of Object.entries(node.metadata)) {
      w.uint32((1 << 3) | WIRE_LEN).fork();
      str(1, key);
      w.uint32((2 << 3) | WIRE_LEN).fork();
      w.uint32((3 << 3) | WIRE_LEN).string(value);
      w.ldelim();
      w.ldelim();
    }
    w.ldelim();
    // locality 4: region 1, zone 2, sub_zone 3.
    w.uint32((4 << 3) | WIRE_LEN).fork();
    str(1, node.locality.region);
    str(2, node.locality.zone);
    str(3, node.locality.subZone ?? '');
    w.ldelim();
    str(6, node.userAgentName);
    w.ldelim();
  }
  for (const name of request.resourceNames) w.uint32((3 << 3) | WIRE_LEN).string(name);
  str(4, request.typeUrl);
  str(5, request.responseNonce);
  return Buffer.from(w.finish());
}
