import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { Command } from 'commander';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gatewayCommand } from '../../cli/gateway-command.js';
import { globalCpCommand } from '../../cli/global-cp-command.js';
import { zoneCpCommand } from '../../cli/zone-cp-command.js';
import { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import { POLICY_KIND_NAMES, isPolicyKind, policyInputSchema } from '../../core/schemas/policies/index.js';
import { CRD_GROUP, CRD_VERSION, POLICY_PLURALS, policyCrds, renderCrdFiles } from '../../deploy/k8s/policy-crds.js';
import { crdDocumentValidator, undeclaredFields } from './crd-documents.js';
import { K8S_DIR, REPO_DIR, kustomizeBuild, objectId, readYamlDocuments, rel, yamlFilesUnder, type K8sObject, type Manifest } from './manifests.js';
import { structuralSchemaViolations } from './structural-rules.js';

const NAMESPACE = 'meshfed-system';
const MESHFED_IMAGE = 'ghcr.io/meshfed/meshfed';

/** Every apiVersion/kind the manifests may use, with its model from kubernetes-models. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};

const main = kustomizeBuild(K8S_DIR);
const sidecarExample = kustomizeBuild(join(K8S_DIR, 'examples/sidecar'));
const all: Manifest[] = [...main.manifests, ...sidecarExample.manifests];
const objects = all.map((m) => m.object);
const find = (kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the manifests`);
  return found;
};
const nameOf = (o: K8sObject): string => String(o.metadata?.name);
const deployments = objects.filter((o) => o.kind === 'Deployment');
const podSpec = (name: string): K8sObject => find('Deployment', name).spec.template.spec as K8sObject;
const containers = (d: K8sObject): K8sObject[] => [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers] as K8sObject[];
/** The containers that run a meshfed process (`meshfed <command> …`), not helpers. */
const meshfedContainers = deployments.flatMap((d) =>
  (d.spec.template.spec.containers as K8sObject[])
    .filter((c) => String(c.image).startsWith(`${MESHFED_IMAGE}:`) && !c.command)
    .map((c) => ({ deployment: d, container: c })),
);
const flagValue = (container: K8sObject, flag: string): string | undefined =>
  (container.args as string[]).find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

describe('deploy/k8s manifests', () => {
  it('are all reached from a kustomization (no stray files), and name no missing file', () => {
    const reached = new Set([...main.files, ...sidecarExample.files]);
    const stray = yamlFilesUnder(K8S_DIR).filter((f) => !reached.has(f)).map(rel);
    expect(stray).toEqual([]);
    expect(main.manifests.length).toBeGreaterThan(15);
  });

  it('have no two objects with the same kind, namespace and name', () => {
    for (const build of [main, sidecarExample]) {
      const ids = build.manifests.map((m) => objectId(m.object));
      expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    }
  });

  it.each(all.map((m) => [`${objectId(m.object)} (${m.file})`, m.object] as const))('%s validates against the Kubernetes schema', (_name, object) => {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!Model) throw new Error(`no kubernetes-models class for ${object.apiVersion} ${object.kind}: add it to MODELS`);
    expect(() => new Model(object as never).validate()).not.toThrow();
  });

  it('put every namespaced meshfed object in meshfed-system', () => {
    for (const { object } of main.manifests) {
      const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(object.kind as string);
      expect(object.metadata.namespace, objectId(object)).toBe(clusterScoped ? undefined : NAMESPACE);
    }
    expect(find('Namespace', NAMESPACE).metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('run every container non-root, read-only, without privileges or capabilities, with requests and limits', () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec as K8sObject;
      expect(pod.securityContext?.runAsNonRoot, nameOf(d)).toBe(true);
      expect(pod.securityContext?.seccompProfile?.type, nameOf(d)).toBe('RuntimeDefault');
      expect(pod.hostNetwork ?? false).toBe(false);
      for (const c of containers(d)) {
        const at = `${d.metadata.name}/${c.name}`;
        expect(c.securityContext?.allowPrivilegeEscalation, at).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, at).toBe(true);
        expect(c.securityContext?.privileged ?? false, at).toBe(false);
        expect(c.securityContext?.capabilities?.drop, at).toEqual(['ALL']);
        expect(c.securityContext?.capabilities?.add ?? [], at).toEqual([]);
        for (const kind of ['requests', 'limits']) {
          expect(Object.keys((c.resources?.[kind] ?? {}) as object).sort(), `${at} resources.${kind}`).toEqual(['cpu', 'memory']);
        }
      }
    }
  });

  it('probe every meshfed process on /healthz (startup, liveness) and /readyz (readiness), on a port it declares', () => {
    expect(meshfedContainers.map((m) => `${m.deployment.metadata.name}/${m.container.name}`).sort()).toEqual([
      'meshfed-global-cp/global-cp',
      'meshfed-ingress/ingress',
      'meshfed-zone-cp/zone-cp',
      'web/meshfed-sidecar',
    ]);
    for (const { container: c } of meshfedContainers) {
      const ports = (c.ports as K8sObject[]).map((p) => p.name as string);
      for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
        expect(c[probe]?.httpGet?.path, `${c.name} ${probe}`).toBe(path);
        expect(ports, `${c.name} ${probe} port`).toContain(c[probe]?.httpGet?.port);
      }
    }
  });

  it('listen on all interfaces on exactly the container ports they declare', () => {
    for (const { container: c } of meshfedContainers) {
      const listening = (c.args as string[]).filter((a) => /^--[a-z-]*listen=/.test(a)).map((a) => a.split('=')[1]!);
      for (const address of listening) expect(address, String(c.name)).toMatch(/^0\.0\.0\.0:\d+$/);
      expect(listening.map((a) => Number(a.split(':')[1])).sort(), String(c.name)).toEqual((c.ports as K8sObject[]).map((p) => p.containerPort as number).sort());
    }
  });

  it('mount a volume at the state dir and /tmp, secret files read-only and not world-readable', () => {
    for (const { deployment: d, container: c } of meshfedContainers) {
      const pod = d.spec.template.spec as K8sObject;
      const mounts = (c.volumeMounts ?? []) as K8sObject[];
      const volumes = new Map(((pod.volumes ?? []) as K8sObject[]).map((v) => [v.name as string, v]));
      for (const m of mounts) expect(volumes.has(m.name as string), `${c.name}: volume ${m.name}`).toBe(true);
      const mountOf = (path: string) => mounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
      const stateDir = flagValue(c, '--state-dir');
      if (stateDir) {
        expect(mountOf(stateDir)?.readOnly ?? false, `${c.name} --state-dir`).toBe(false);
      } else {
        expect(c.args[0], `${c.name} has no --state-dir`).toBe('global-cp'); // the global CP keeps its state in Redis
      }
      // Scratch space for the control plane and gateway pods; the sidecar leaves the workload's pod alone.
      if (d.metadata.namespace === NAMESPACE) expect(mountOf('/tmp'), `${c.name} /tmp`).toBeDefined();
      for (const flag of ['--token-file', '--admin-token-file', '--master-key-file', '--ca-cert-file']) {
        const file = flagValue(c, flag);
        if (!file) continue;
        const mount = mountOf(file);
        expect(mount?.readOnly, `${c.name} ${flag}`).toBe(true);
        const volume = volumes.get(mount!.name as string)!;
        const source = (volume.secret ?? volume.configMap) as K8sObject | undefined;
        expect(source, `${c.name} ${flag} comes from a Secret or ConfigMap`).toBeDefined();
        expect((source!.items as K8sObject[]).map((i) => `${mount!.mountPath}/${i.path}`), `${c.name} ${flag}`).toContain(file);
        if (volume.secret) expect((volume.secret.defaultMode as number) & 0o007, `${c.name} ${flag} mode`).toBe(0);
      }
    }
  });

  it('select the pods of a Deployment with every Service and target ports those pods declare', () => {
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const selector = service.spec.selector as Record<string, string>;
      const backing = deployments.filter(
        (d) => d.metadata.namespace === service.metadata.namespace && Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels?.[k] === v),
      );
      expect(backing.length, objectId(service)).toBe(1);
      const ports = containers(backing[0]!).flatMap((c) => (c.ports ?? []) as K8sObject[]).map((p) => p.name as string);
      for (const port of service.spec.ports as K8sObject[]) expect(ports, `${objectId(service)} port ${port.name}`).toContain(port.targetPort);
    }
    for (const d of deployments) {
      expect(d.spec.selector.matchLabels, nameOf(d)).toEqual(
        Object.fromEntries(Object.keys(d.spec.selector.matchLabels as object).map((k) => [k, d.spec.template.metadata.labels[k]])),
      );
    }
  });

  it('expose the ingress gateway\'s SNI port through a LoadBalancer, and nothing else outside the cluster', () => {
    const loadBalancers = objects.filter((o) => o.kind === 'Service' && o.spec.type === 'LoadBalancer');
    expect(loadBalancers.map(objectId)).toEqual([`Service ${NAMESPACE}/meshfed-ingress`]);
    expect((loadBalancers[0]!.spec.ports as K8sObject[]).map((p) => p.targetPort as unknown)).toEqual(['sni']);
    const ingress = containers(find('Deployment', 'meshfed-ingress'))[0]!;
    expect(flagValue(ingress, '--mode')).toBe('ingress');
    expect((ingress.ports as K8sObject[]).find((p) => p.name === 'sni')?.containerPort).toBe(Number(flagValue(ingress, '--listen')!.split(':')[1]));
  });

  it('run the zone CP with Kubernetes discovery, TLS gRPC, no plaintext xDS, and a persistent state dir', () => {
    const zoneCp = containers(find('Deployment', 'meshfed-zone-cp'))[0]!;
    expect(zoneCp.args[0]).toBe('zone-cp');
    expect(zoneCp.args).toContain('--kube');
    expect(flagValue(zoneCp, '--grpc-listen')).toBe('0.0.0.0:5685');
    expect((zoneCp.args as string[]).some((a) => a.startsWith('--xds-plaintext-listen'))).toBe(false);
    expect(JSON.stringify(zoneCp.env ?? [])).not.toContain('MESHFED_XDS_PLAINTEXT_LISTEN');
    expect(find('ConfigMap', 'meshfed-zone-cp').data).not.toHaveProperty('MESHFED_XDS_PLAINTEXT_LISTEN');
    const state = (podSpec('meshfed-zone-cp').volumes as K8sObject[]).find((v) => v.name === 'state')!;
    expect(find('PersistentVolumeClaim', state.persistentVolumeClaim.claimName as string)).toBeDefined();
    // The gateways verify the zone CP's gRPC certificate by the Service's name.
    const dialed = containers(find('Deployment', 'meshfed-ingress'))[0]!;
    const host = flagValue(dialed, '--zone-cp-grpc')!.split(':')[0]!;
    expect((zoneCp.args as string[]).filter((a) => a.startsWith('--grpc-tls-name=')).map((a) => a.split('=')[1])).toContain(host);
    expect(find('Deployment', 'meshfed-zone-cp').spec.strategy.type).toBe('Recreate');
  });

  it('give the sidecar a dataplane file, written per pod, that describes the Service it fronts', () => {
    const pod = podSpec('web');
    const sidecar = (pod.containers as K8sObject[]).find((c) => c.name === 'meshfed-sidecar')!;
    const file = flagValue(sidecar, '--dataplane-file')!;
    expect(sidecar.args).toContain('--no-register');
    const writer = (pod.initContainers as K8sObject[]).find((c) => c.name === 'meshfed-dataplane')!;
    const sharedVolume = (sidecar.volumeMounts as K8sObject[]).find((m) => file.startsWith(`${m.mountPath}/`))!;
    expect((writer.volumeMounts as K8sObject[]).find((m) => m.name === sharedVolume.name)?.mountPath).toBe(sharedVolume.mountPath);
    // Run the init container's script as the pod would, into a temporary directory.
    const dir = mkdtempSync(join(tmpdir(), 'meshfed-dataplane-'));
    try {
      const [shell, flag, script] = writer.command as [string, string, string];
      const env = { PATH: process.env.PATH, POD_NAME: 'web-7c9d8f6b5-x2k4q', POD_NAMESPACE: 'shop', POD_IP: '10.12.3.4' };
      execFileSync(shell, [flag, script.replaceAll(`${sharedVolume.mountPath}/`, `${dir}/`)], { env });
      const [dataplane] = readYamlDocuments(join(dir, file.slice(String(sharedVolume.mountPath).length + 1)));
      expect([...Value.Errors(DataplaneRegistration, dataplane)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
      expect(dataplane).toMatchObject({ namespace: 'shop', instance: env.POD_NAME, address: env.POD_IP });
      expect(find('Namespace', 'shop').metadata.labels['meshfed.io/tenant']).toBe(dataplane!.tenant);
      const service = find('Service', dataplane!.service as string);
      expect((dataplane!.ports as K8sObject[]).map((p) => p.port as number)).toEqual((service.spec.ports as K8sObject[]).map((p) => p.port as number));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('use only flags and MESHFED_* variables the meshfed commands define', () => {
    const known = (command: Command) => ({
      flags: new Set(command.options.map((o) => o.long!)),
      env: new Set(command.options.flatMap((o) => (o.envVar ? [o.envVar] : []))),
    });
    const commands: Record<string, { flags: Set<string>; env: Set<string> }> = {
      'global-cp': { ...known(globalCpCommand()), env: new Set([...known(globalCpCommand()).env, 'MESHFED_ADMIN_TOKEN']) },
      'zone-cp': known(zoneCpCommand()),
      gateway: known(gatewayCommand()),
    };
    for (const { deployment: d, container: c } of meshfedContainers) {
      const [name, ...args] = c.args as string[];
      const command = commands[name!];
      expect(command, `${c.name}: meshfed ${name}`).toBeDefined();
      for (const arg of args) expect(command!.flags, `${d.metadata.name}/${c.name}: ${arg}`).toContain(arg.split('=')[0]);
      const envNames = [
        ...((c.env ?? []) as K8sObject[]).map((e) => e.name as string),
        ...((c.envFrom ?? []) as K8sObject[]).flatMap((from) => Object.keys(find('ConfigMap', from.configMapRef.name as string).data as object)),
      ];
      for (const env of envNames) expect(command!.env, `${d.metadata.name}/${c.name}: ${env}`).toContain(env);
    }
  });
});

describe('zone CP RBAC', () => {
  /** The API paths the zone CP's informers list and watch, read from the discovery code itself. */
  const watched = [...readFileSync(join(REPO_DIR, 'zone-cp/discovery/kubernetes.ts'), 'utf8').matchAll(/path: '(\/apis?\/[^']+)'/g)].map((m) => {
    const parts = m[1]!.split('/').filter(Boolean); // api/v1/pods or apis/discovery.k8s.io/v1/endpointslices
    return parts[0] === 'api' ? `/${parts[2]}` : `${parts[1]}/${parts[3]}`;
  });

  it('the informers watch namespaces, services, endpointslices and pods', () => {
    expect(watched.sort()).toEqual(['/namespaces', '/pods', '/services', 'discovery.k8s.io/endpointslices']);
  });

  it('grants get, list and watch on exactly those resources, and nothing else', () => {
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    expect(roles.map(objectId)).toEqual(['ClusterRole meshfed-zone-cp']);
    const grants = new Set<string>();
    for (const rule of roles[0]!.rules as K8sObject[]) {
      expect(rule.resourceNames ?? [], 'resourceNames').toEqual([]);
      expect(rule.nonResourceURLs ?? [], 'nonResourceURLs').toEqual([]);
      for (const group of rule.apiGroups as string[]) for (const resource of rule.resources as string[]) for (const verb of rule.verbs as string[]) grants.add(`${group}/${resource} ${verb}`);
    }
    const expected = watched.flatMap((r) => ['get', 'list', 'watch'].map((verb) => `${r} ${verb}`));
    expect([...grants].sort()).toEqual(expected.sort());
  });

  it('binds it to the zone CP\'s ServiceAccount only; no other pod gets an API token', () => {
    const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    expect(bindings.map(objectId)).toEqual(['ClusterRoleBinding meshfed-zone-cp']);
    expect(bindings[0]!.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'meshfed-zone-cp' });
    expect(bindings[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'meshfed-zone-cp', namespace: NAMESPACE }]);
    expect(podSpec('meshfed-zone-cp').serviceAccountName).toBe('meshfed-zone-cp');
    for (const d of deployments.filter((d) => d.metadata.name !== 'meshfed-zone-cp')) {
      const pod = d.spec.template.spec as K8sObject;
      const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === pod.serviceAccountName && o.metadata.namespace === d.metadata.namespace);
      expect(pod.automountServiceAccountToken ?? account?.automountServiceAccountToken, nameOf(d)).toBe(false);
    }
  });
});

describe('policy CRDs', () => {
  const crds = policyCrds();
  const crdFiles = renderCrdFiles();

  it('on disk are what generate-crds.ts writes now (run npx tsx deploy/k8s/generate-crds.ts)', () => {
    const dir = join(K8S_DIR, 'crds');
    expect(readdirSync(dir).sort()).toEqual([...crdFiles.keys()].sort());
    for (const [name, text] of crdFiles) expect(readFileSync(join(dir, name), 'utf8'), name).toBe(text);
  });

  it('are one per policy kind: meshfed.io/v1alpha1, namespaced, with a status subresource', () => {
    expect(crds.map((c) => c.kind)).toEqual(POLICY_KIND_NAMES);
    for (const { kind, crd } of crds) {
      const spec = crd.spec as K8sObject;
      expect(crd.metadata).toMatchObject({ name: `${POLICY_PLURALS[kind]}.${CRD_GROUP}` });
      expect(spec).toMatchObject({ group: CRD_GROUP, scope: 'Namespaced', names: { kind, plural: POLICY_PLURALS[kind], listKind: `${kind}List` } });
      expect(spec.versions).toHaveLength(1);
      expect(spec.versions[0]).toMatchObject({ name: CRD_VERSION, served: true, storage: true, subresources: { status: {} } });
      // What is on disk is what gets applied: read it back rather than trusting the object.
      const [onDisk] = readYamlDocuments(join(K8S_DIR, 'crds', `${CRD_GROUP}_${POLICY_PLURALS[kind]}.yaml`));
      expect(onDisk).toEqual(crd);
    }
  });

  it.each(crds.map((c) => [c.kind, c.crd] as const))('%s validates as a CustomResourceDefinition', (_kind, crd) => {
    expect(() => new CustomResourceDefinition(crd as never).validate()).not.toThrow();
  });

  it.each(crds.map((c) => [c.kind, c.crd] as const))('%s has a structural openAPIV3Schema', (_kind, crd) => {
    const schema = (crd.spec as K8sObject).versions[0].schema.openAPIV3Schema as unknown;
    expect(structuralSchemaViolations(schema)).toEqual([]);
  });

  it('leave unenforced only what a CRD cannot express (meshfed\'s own validation checks it)', () => {
    const losses = crds.flatMap((c) => c.losses.map((l) => `${c.kind} ${l.path}: ${l.lost.replace(/ .*/, '')}`));
    expect(losses).toEqual(['TrafficRoute .spec.rules[].split[].tags: map']);
  });
});

describe('example policies (deploy/examples)', () => {
  const examples = readdirSync(join(REPO_DIR, 'deploy/examples'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(REPO_DIR, 'deploy/examples', f), 'utf8')).map((d) => ({ file: f, doc: d.toJS() as K8sObject })))
    .filter(({ doc }) => doc && isPolicyKind(String(doc.kind)));
  const crdSchema = (kind: string) => {
    const crd = policyCrds().find((c) => c.kind === kind)!.crd;
    return (crd.spec as K8sObject).versions[0].schema.openAPIV3Schema as K8sObject;
  };
  const validators = new Map(POLICY_KIND_NAMES.map((k) => [k, crdDocumentValidator(crdSchema(k))]));

  it('cover every policy kind', () => {
    expect(new Set(examples.map((e) => String(e.doc.kind)))).toEqual(new Set(POLICY_KIND_NAMES));
  });

  it.each(examples.map((e) => [`${e.doc.kind} ${e.doc.metadata.name} (${e.file})`, e.doc] as const))(
    '%s validates against the TypeBox schema and the CRD schema, with no field pruned',
    (_name, doc) => {
      const kind = doc.kind as (typeof POLICY_KIND_NAMES)[number];
      expect([...Value.Errors(policyInputSchema(kind), doc)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
      expect(doc.apiVersion).toBe(`${CRD_GROUP}/${CRD_VERSION}`);
      expect(validators.get(kind)!(doc)).toEqual([]);
      expect(undeclaredFields(crdSchema(kind).properties.spec, doc.spec, '/spec')).toEqual([]);
    },
  );

  /** Specs both schemas must refuse: the CRD is as strict as TypeBox wherever it can be. */
  const REFUSED: Array<[string, (typeof POLICY_KIND_NAMES)[number], Record<string, unknown>]> = [
    ['an unknown target kind', 'Timeout', { targetRef: { kind: 'Mesh' }, connect: '1s' }],
    ['a target name that is no DNS label', 'Timeout', { targetRef: { kind: 'Service', name: 'Web', namespace: 'shop' }, connect: '1s' }],
    ['a spec without targetRef', 'Timeout', { targetRef: undefined, connect: '1s' }],
    ['a weight over 100', 'TrafficRoute', { rules: [{ split: [{ weight: 101 }] }] }],
    ['an unknown method', 'TrafficRoute', { rules: [{ matches: [{ method: 'FETCH' }], split: [{ weight: 100 }] }] }],
    ['no rules', 'TrafficRoute', { rules: [] }],
    ['a tag value that is no label value', 'TrafficRoute', { rules: [{ split: [{ weight: 100, tags: { version: 'v 1' } }] }] }],
    ['an invalid header name', 'TrafficRoute', { rules: [{ matches: [{ headers: [{ name: 'x canary', exact: '1' }] }], split: [{ weight: 100 }] }] }],
    ['zero attempts', 'Retry', { attempts: 0, retryOn: ['5xx'] }],
    ['an unknown retry condition', 'Retry', { attempts: 1, retryOn: ['sometimes'] }],
    ['a repeated retry condition', 'Retry', { attempts: 1, retryOn: ['5xx', '5xx'] }],
    ['a zero retry budget', 'Retry', { attempts: 1, retryOn: ['5xx'], budget: { percent: 0 } }],
    ['a duration without unit', 'Timeout', { connect: '5' }],
    ['an ejection percent over 100', 'CircuitBreaker', { outlierDetection: { maxEjectionPercent: 101 } }],
    ['a fractional threshold', 'CircuitBreaker', { thresholds: { maxRequests: 1.5 } }],
    ['an empty failover list', 'LocalityFailover', { crossRegion: [{ from: 'eu-west', to: [] }] }],
    ['a spill-over threshold of 0', 'LocalityFailover', { spilloverThreshold: 0 }],
    ['an unknown action', 'TrafficPermission', { rules: [{ action: 'Maybe', sources: [{ namespace: 'shop' }] }] }],
    ['a rule without sources', 'TrafficPermission', { rules: [{ action: 'Allow', sources: [] }] }],
  ];

  it.each(REFUSED)('both refuse %s (%s)', (_what, kind, body) => {
    const spec = JSON.parse(JSON.stringify({ targetRef: { kind: 'Tenant' }, ...body })) as Record<string, unknown>;
    expect(Value.Check(policyInputSchema(kind), { spec })).toBe(false);
    expect(validators.get(kind)!({ apiVersion: `${CRD_GROUP}/${CRD_VERSION}`, kind, metadata: { name: 'p' }, spec })).not.toEqual([]);
  });

  it('differ only where the CRD cannot follow: unknown fields are pruned, tag keys are not checked', () => {
    const kind = 'TrafficRoute';
    const spec = { targetRef: { kind: 'Tenant' }, rules: [{ split: [{ weight: 100, tags: { 'not a key!': 'v1' } }] }], extra: 1 };
    expect(Value.Check(policyInputSchema(kind), { spec })).toBe(false);
    expect(validators.get(kind)!({ apiVersion: `${CRD_GROUP}/${CRD_VERSION}`, kind, metadata: { name: 'p' }, spec })).toEqual([]);
    expect(undeclaredFields(crdSchema(kind).properties.spec, spec, '/spec')).toEqual(['/spec/extra']);
  });
});

const kubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(kubectl)('kubectl kustomize (when kubectl is installed)', () => {
  it.each([['deploy/k8s', main], ['deploy/k8s/examples/sidecar', sidecarExample]] as const)('%s builds to the objects these tests checked', (dir, build) => {
    const output = execFileSync('kubectl', ['kustomize', join(REPO_DIR, dir)], { encoding: 'utf8' });
    const built = parseAllDocuments(output).map((d) => d.toJS() as K8sObject);
    expect(built.map(objectId).sort()).toEqual(build.manifests.map((m) => objectId(m.object)).sort());
    for (const object of built) {
      const ours = build.manifests.find((m) => objectId(m.object) === objectId(object))!.object;
      expect(normalizeLists(object), objectId(object)).toEqual(normalizeLists(ours));
    }
  });
});

/** Strategic merge may put merged list items in another order; compare named items by name. */
function normalizeLists(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalizeLists);
    return items.every((i) => typeof i === 'object' && i !== null && typeof (i as K8sObject).name === 'string')
      ? [...items].sort((a, b) => String((a as K8sObject).name).localeCompare(String((b as K8sObject).name)))
      : items;
  }
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeLists(v)]));
  return value;
}
