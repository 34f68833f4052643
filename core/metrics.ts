import { Registry, collectDefaultMetrics } from 'prom-client';

/** A registry per process component (not prom-client's global one), so tests can build many apps. */
export function createRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry, prefix: 'meshfed_' });
  return registry;
}
