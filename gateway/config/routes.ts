/**
 * RouteConfiguration → RouteTable: the virtual host by authority
 * (domains.ts), then the first of its routes whose match holds
 * (route-match.ts), whose action (route-action.ts) is compiled up front so
 * `select` allocates nothing. Pure.
 */
import { isObject, objectsIn, textOf } from '../xds/resources.js';
import type { RequestFacts, RouteAction, RouteTable } from './model.js';
import { compileDomainIndex } from './domains.js';
import { fail, within } from './problems.js';
import { RegexCache } from './regex.js';
import { compileRouteAction } from './route-action.js';
import { compileRouteMatch, type RequestPredicate } from './route-match.js';
import { hasEntries, setFields } from './values.js';

interface CompiledRoute {
  readonly matches: RequestPredicate;
  readonly action: RouteAction;
}

/** Compiles a RouteConfiguration (an RDS resource, or a connection manager's inline `route_config`). Throws a ConfigProblem. */
export function compileRouteConfiguration(config: Record<string, unknown>, regexes: RegexCache = new RegexCache()): RouteTable {
  const name = textOf(config.name);
  if (setFields(config, ['vhds']).length) fail('vhds is not supported');
  const hosts = objectsIn(config.virtual_hosts).map((host, i) => {
    const hostName = textOf(host.name) || `#${i}`;
    return within(`virtual host ${hostName}`, () => ({
      domains: Array.isArray(host.domains) ? host.domains.map(textOf) : [],
      value: compileVirtualHostRoutes(host, `${name}/${hostName}`, regexes),
    }));
  });
  const index = compileDomainIndex(hosts, { ignorePort: config.ignore_port_in_host_matching === true });
  return {
    name,
    select(request: RequestFacts): RouteAction | undefined {
      const routes = index.select(request.authority);
      return routes?.find((route) => route.matches(request))?.action;
    },
  };
}

function compileVirtualHostRoutes(host: Record<string, unknown>, prefix: string, regexes: RegexCache): CompiledRoute[] {
  if (setFields(host, ['matcher']).length) fail('matcher is not supported');
  if (hasEntries(host.typed_per_filter_config)) fail('typed_per_filter_config is not supported');
  return objectsIn(host.routes).map((route, i) => {
    const routeName = textOf(route.name) || `#${i}`;
    return within(`route ${routeName}`, () => ({
      matches: compileRouteMatch(route.match, regexes),
      action: compileRouteAction(route, `${prefix}/${routeName}`, isObject(host.retry_policy) ? host.retry_policy : undefined),
    }));
  });
}
