import { serviceAuthority } from '../../../core/xds/names.js';
import { httpConnectionManager } from './http.js';
import type { ServiceModel } from './model.js';
import type { NamedResource } from './output.js';

/**
 * One API listener per service port, named `<service>.<namespace>.mesh:<port>`:
 * what proxyless gRPC resolves `xds:///<that name>` with. It points by RDS
 * at the route configuration of the same name.
 */
export function serviceApiListeners(service: ServiceModel): NamedResource[] {
  return service.ports.map(({ port }) => {
    const name = serviceAuthority(service.name, service.namespace, port);
    return { name, resource: { name, api_listener: { api_listener: httpConnectionManager(name, { rds: name }) } } };
  });
}
