#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { meshfedVersion } from '../core/version.js';
import { applyDocuments, deleteDocuments, deliverZoneToken } from './ctl/apply.js';
import { ApiClient } from './ctl/client.js';
import { resolveConnection, type ConnectionFlags } from './ctl/config.js';
import { parseManifest, type ManifestDocument } from './ctl/documents.js';
import { CtlError, usageError } from './ctl/errors.js';
import { getResources, requirePolicyKind, requireTenant, resourceType } from './ctl/get.js';
import { OUTPUT_FORMATS, type OutputFormat } from './ctl/output.js';

const say = (line: string) => console.log(line);
const warn = (line: string) => console.error(line);

const program = new Command('meshfedctl')
  .description('Command-line client of the meshfed global control plane API.')
  .version(meshfedVersion())
  .option('--server <url>', 'global CP URL (env MESHFED_SERVER)')
  .option('--token <token>', 'bearer token (env MESHFED_TOKEN; prefer --token-file)')
  .option('--token-file <path>', 'file holding the bearer token (env MESHFED_TOKEN_FILE)')
  .option('--config <path>', 'config file with server, token or tokenFile, tenant (env MESHFED_CONFIG; default ./.meshfed/meshfedctl.yaml, then ~/.config/meshfed/meshfedctl.yaml)')
  .option('--tenant <name>', 'tenant for policies and tokens (env MESHFED_TENANT)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

function connect(command: Command): { client: ApiClient; tenant?: string } {
  const connection = resolveConnection(command.optsWithGlobals<ConnectionFlags>());
  return { client: new ApiClient(connection), ...(connection.tenant ? { tenant: connection.tenant } : {}) };
}

function readManifests(files: string[], tenant: string | undefined): ManifestDocument[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw usageError(`-f ${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return parseManifest(text, file === '-' ? 'stdin' : file, tenant);
  });
}

const outputOption = () => new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
const collect = (value: string, previous: string[]) => [...previous, value];

function parseLabels(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw usageError(`--label "${pair}" must be key=value`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} "${value}" must be a whole number`);
  return n;
}

program
  .command('apply')
  .description('Create or update the zones, tenants and policies in YAML or JSON files (multi-document, idempotent).')
  .requiredOption('-f, --filename <file>', 'file to apply, - for stdin (repeatable)', collect, [])
  .option('--token-dir <dir>', 'write tokens of newly registered zones to <dir>/<zone>.token instead of printing them')
  .action(async (flags: { filename: string[]; tokenDir?: string }, command: Command) => {
    const { client, tenant } = connect(command);
    const docs = readManifests(flags.filename, tenant);
    const failures = await applyDocuments(client, docs, { say, warn, ...(flags.tokenDir ? { tokenDir: flags.tokenDir } : {}) });
    if (failures) throw new CtlError(`${failures} of ${docs.length} documents failed`);
  });

program
  .command('get')
  .description('Show zones, tenants, tokens or policies: get zones [NAME] | tenants [NAME] | tokens | policies [KIND] [NAME]')
  .argument('<resource>', 'zones, tenants, tokens or policies')
  .argument('[args...]', 'name, or for policies KIND and NAME')
  .addOption(outputOption())
  .option('-l, --selector <selector>', 'label selector for policies, e.g. app=web,tier in (a,b)')
  .action(async (resource: string, args: string[], flags: { output: OutputFormat; selector?: string }, command: Command) => {
    const type = resourceType(resource);
    const { client, tenant } = connect(command);
    say(await getResources(client, { type, args, output: flags.output, ...(tenant ? { tenant } : {}), ...(flags.selector ? { selector: flags.selector } : {}) }));
  });

program
  .command('delete')
  .description('Delete: delete zone NAME | tenant NAME | policy KIND NAME | token ID, or delete -f FILE')
  .argument('[resource]', 'zone, tenant, policy or token')
  .argument('[args...]', 'name (policy: KIND NAME; token: ID)')
  .option('-f, --filename <file>', 'delete what a file declares (repeatable)', collect, [])
  .action(async (resource: string | undefined, args: string[], flags: { filename: string[] }, command: Command) => {
    const { client, tenant } = connect(command);
    if (flags.filename.length) {
      if (resource) throw usageError('give either -f FILE or a resource, not both');
      const docs = readManifests(flags.filename, tenant);
      const failures = await deleteDocuments(client, docs, { say, warn });
      if (failures) throw new CtlError(`${failures} of ${docs.length} deletions failed`);
      return;
    }
    if (!resource) throw usageError('what to delete? e.g. delete policy Retry my-retry --tenant acme');
    const type = resourceType(resource);
    const need = type === 'policies' ? 2 : 1;
    if (args.length !== need) throw usageError(type === 'policies' ? 'delete policy needs KIND and NAME' : `delete ${resource} needs exactly one ${type === 'tokens' ? 'ID' : 'NAME'}`);
    const path =
      type === 'zones' ? `/zones/${args[0]}`
      : type === 'tenants' ? `/tenants/${args[0]}`
      : type === 'tokens' ? `/tenants/${requireTenant(tenant)}/tokens/${args[0]}`
      : `/tenants/${requireTenant(tenant)}/policies/${requirePolicyKind(args[0]!)}/${args[1]}`;
    await client.request('DELETE', path);
    say(`${type === 'policies' ? requirePolicyKind(args[0]!).toLowerCase() : type.slice(0, -1)}/${args.at(-1)} deleted`);
  });

const create = program.command('create').description('Create a zone, tenant or tenant token from flags.');

create
  .command('zone')
  .description('Register a zone; prints its token once (or writes it with --token-out).')
  .argument('<name>')
  .requiredOption('--region <region>', 'region, e.g. eu-west')
  .requiredOption('--location <location>', 'provider:place, e.g. aws:eu-west-1')
  .addOption(new Option('--kind <kind>', 'how the zone discovers workloads').choices(['kubernetes', 'universal']).default('universal'))
  .option('--label <key=value>', 'label (repeatable)', collect, [])
  .option('--token-out <dir>', 'write the zone token to <dir>/<name>.token (mode 600) instead of printing it')
  .action(async (name: string, flags: { region: string; location: string; kind: string; label: string[]; tokenOut?: string }, command: Command) => {
    const { client } = connect(command);
    const created = await client.request<{ token: string }>('POST', '/zones', { name, region: flags.region, location: flags.location, kind: flags.kind, labels: parseLabels(flags.label) });
    say(`zone/${name} created; ${await deliverZoneToken(name, created.body.token, flags.tokenOut ? { tokenDir: flags.tokenOut } : {})}`);
  });

create
  .command('tenant')
  .description('Create a tenant.')
  .argument('<name>')
  .option('--zones <zones>', 'comma-separated zones to place the tenant in')
  .option('--max-policies <n>', 'quota: policies')
  .option('--max-tokens <n>', 'quota: live tokens')
  .option('--trust-domain <domain>', 'SPIFFE trust domain (default <name>.mesh)')
  .option('--label <key=value>', 'label (repeatable)', collect, [])
  .action(async (name: string, flags: { zones?: string; maxPolicies?: string; maxTokens?: string; trustDomain?: string; label: string[] }, command: Command) => {
    const { client } = connect(command);
    const maxPolicies = positiveInt('--max-policies', flags.maxPolicies);
    const maxTokens = positiveInt('--max-tokens', flags.maxTokens);
    await client.request('POST', '/tenants', {
      name,
      zones: flags.zones ? flags.zones.split(',').map((z) => z.trim()).filter(Boolean) : [],
      quotas: { ...(maxPolicies !== undefined ? { maxPolicies } : {}), ...(maxTokens !== undefined ? { maxTokens } : {}) },
      labels: parseLabels(flags.label),
      ...(flags.trustDomain ? { trustDomain: flags.trustDomain } : {}),
    });
    say(`tenant/${name} created`);
  });

create
  .command('token')
  .description('Create a tenant-scoped API token (needs --tenant); prints it once.')
  .addOption(new Option('--role <role>', 'viewer reads; editor writes policies; admin also manages tokens').choices(['admin', 'editor', 'viewer']).makeOptionMandatory())
  .option('--ttl <duration>', 'lifetime, e.g. 24h (default 720h)')
  .option('--description <text>', 'what the token is for')
  .action(async (flags: { role: string; ttl?: string; description?: string }, command: Command) => {
    const { client, tenant } = connect(command);
    const t = requireTenant(tenant);
    const created = await client.request<{ token: string; info: { id: string; expiresAt: string } }>('POST', `/tenants/${t}/tokens`, {
      role: flags.role,
      ...(flags.ttl ? { ttl: flags.ttl } : {}),
      ...(flags.description ? { description: flags.description } : {}),
    });
    console.error(`token ${created.body.info.id} (${flags.role} of tenant ${t}) expires ${created.body.info.expiresAt}; shown once:`);
    say(created.body.token);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (error instanceof CtlError) {
    warn(`meshfedctl: ${error.message}`);
    for (const line of error.lines) warn(`  ${line}`);
    process.exit(error.exitCode);
  }
  warn(`meshfedctl: unexpected error: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
}
