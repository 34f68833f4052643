import { createHash } from 'node:crypto';
import { clusterName, subsetKey } from '../../../core/xds/names.js';

/*
 * Names only generation uses, kept here rather than in core/xds/names.ts
 * until they are agreed there (see the report that introduced them).
 */

/** The ingress's cluster for one tenant's service port (or subset): `ingress|<tenant>|<authority>[|<k=v,...>]`. */
export const ingressClusterName = (tenant: string, service: string, namespace: string, port: number, subset?: Record<string, string>) =>
  `ingress|${tenant}|${clusterName(service, namespace, port, subset)}`;

/** A sidecar's cluster to its own application on one inbound port: `inbound:<port>` (the listener shares the name, in another type). */
export const inboundClusterName = (port: number) => `inbound:${port}`;

/**
 * A sidecar's outbound listener for every service on one port, and its
 * route configuration: `outbound:<port>`. Apps reach every service on that
 * port through 127.0.0.1:<port>, told apart by Host header.
 */
export const outboundPortName = (port: number) => `outbound:${port}`;

/**
 * The `<subset>.` label of an ingress SNI for a TrafficRoute subset. A hash of
 * the canonical tags: tags are `k=v` pairs with characters no DNS label can
 * carry, and two tag sets must never share a label (`version=v2` and
 * `track=v2` would, if the label were the value).
 */
export const subsetSniLabel = (tags: Record<string, string>) => `s${createHash('sha256').update(subsetKey(tags)).digest('hex').slice(0, 15)}`;
