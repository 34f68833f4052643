import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { usageError } from './errors.js';

export interface CtlConnection {
  server: string;
  token: string;
  tenant?: string;
}

export interface ConnectionFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  config?: string;
  tenant?: string;
}

interface ConfigFile {
  server?: string;
  token?: string;
  tokenFile?: string;
  tenant?: string;
}

/** Default config locations, first found wins: $MESHFED_CONFIG, ./.meshfed/meshfedctl.yaml (written by `meshfed up`), ~/.config/meshfed/meshfedctl.yaml. */
export function defaultConfigPaths(cwd = process.cwd()): string[] {
  return [join(cwd, '.meshfed', 'meshfedctl.yaml'), join(homedir(), '.config', 'meshfed', 'meshfedctl.yaml')];
}

/** Flags win over environment variables (MESHFED_SERVER, MESHFED_TOKEN, MESHFED_TOKEN_FILE, MESHFED_TENANT), which win over the config file. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): CtlConnection {
  const configPath = flags.config ?? env.MESHFED_CONFIG ?? defaultConfigPaths().find((p) => existsSync(p));
  const file = configPath ? readConfigFile(configPath, Boolean(flags.config ?? env.MESHFED_CONFIG)) : {};
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();

  const server = flags.server ?? env.MESHFED_SERVER ?? file.server;
  if (!server) throw usageError('no server: pass --server URL, set MESHFED_SERVER, or use a config file (see --help)');
  try {
    const url = new URL(server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw usageError(`--server: "${server}" is not an http:// or https:// URL`);
  }

  let token = flags.token ?? (flags.tokenFile ? readToken(flags.tokenFile, '--token-file') : undefined);
  token ??= env.MESHFED_TOKEN ?? (env.MESHFED_TOKEN_FILE ? readToken(env.MESHFED_TOKEN_FILE, 'MESHFED_TOKEN_FILE') : undefined);
  token ??= file.token ?? (file.tokenFile ? readToken(isAbsolute(file.tokenFile) ? file.tokenFile : join(base, file.tokenFile), `tokenFile in ${configPath}`) : undefined);
  if (!token) throw usageError('no token: pass --token or --token-file, set MESHFED_TOKEN, or use a config file');

  const tenant = flags.tenant ?? env.MESHFED_TENANT ?? file.tenant;
  return { server: server.replace(/\/+$/, ''), token, ...(tenant ? { tenant } : {}) };
}

function readConfigFile(path: string, explicit: boolean): ConfigFile {
  if (!existsSync(path)) {
    if (explicit) throw usageError(`config file ${path} does not exist`);
    return {};
  }
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw usageError(`config file ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw usageError(`config file ${path}: must be a mapping with server, token or tokenFile, tenant`);
  const known = ['server', 'token', 'tokenFile', 'tenant'];
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length) throw usageError(`config file ${path}: unknown field ${unknown.join(', ')} (known: ${known.join(', ')})`);
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') throw usageError(`config file ${path}: ${k} must be a string`);
  return value;
}

function readToken(path: string, what: string): string {
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (!token) throw usageError(`${what}: ${path} is empty`);
    return token;
  } catch (error) {
    if ((error as { exitCode?: number }).exitCode) throw error;
    throw usageError(`${what}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
