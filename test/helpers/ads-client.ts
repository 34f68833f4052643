import * as grpc from '@grpc/grpc-js';
import { ADS_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import { decodeResource } from '../../core/xds/protos.js';

export interface AdsResponse {
  version_info: string;
  nonce: string;
  type_url: string;
  resources: Array<{ type_url: string; value: Buffer }>;
}

type AdsStream = grpc.ClientDuplexStream<Record<string, unknown>, AdsResponse>;

/**
 * A bare state-of-the-world ADS client for protocol tests: it sends exactly
 * what the test says (no automatic ACKs) and records every response.
 */
export class RawAdsClient {
  readonly responses: AdsResponse[] = [];
  status: grpc.StatusObject | undefined;
  private readonly stream: AdsStream;
  private readonly client: grpc.Client;

  constructor(address: string, node: Record<string, unknown>, private readonly firstNode = node) {
    const pkg = loadGrpcPackage([ADS_PROTO]) as unknown as {
      envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { StreamAggregatedResources(): AdsStream } } } } };
    };
    const client = new pkg.envoy.service.discovery.v3.AggregatedDiscoveryService(address, grpc.credentials.createInsecure());
    this.client = client;
    this.stream = client.StreamAggregatedResources();
    this.stream.on('data', (r: AdsResponse) => this.responses.push(r));
    this.stream.on('status', (s: grpc.StatusObject) => (this.status = s));
    this.stream.on('error', () => undefined);
  }

  private sentNode = false;

  request(typeUrl: string, names: string[] = [], ack?: { version: string; nonce: string }, errorMessage?: string): void {
    this.stream.write({
      ...(this.sentNode ? {} : { node: this.firstNode }),
      type_url: typeUrl,
      resource_names: names,
      version_info: ack?.version ?? '',
      response_nonce: ack?.nonce ?? '',
      ...(errorMessage ? { error_detail: { code: 3, message: errorMessage } } : {}),
    });
    this.sentNode = true;
  }

  last(typeUrl: string): AdsResponse | undefined {
    return this.responses.filter((r) => r.type_url === typeUrl).at(-1);
  }

  names(response: AdsResponse | undefined): string[] {
    // ClusterLoadAssignments are named by cluster_name; everything else by name.
    return (response?.resources ?? []).map((r) => {
      const decoded = decodeResource(r);
      return String(decoded.name ?? decoded.cluster_name);
    }).sort();
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

/** Node metadata as a google.protobuf.Struct the way grpc-js-xds sends it (protobufjs defines Struct with camelCase fields, whatever keepCase says). */
export function nodeMetadata(fields: Record<string, string>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { kind: 'stringValue', stringValue: v }])) };
}
