import { describe, expect, it } from 'vitest';
import { parseServicesFile } from './services-file.js';

const VALID = `
ingressAddress: 10.0.0.1:10001
tenants:
  acme:
    - namespace: default
      name: web
      ports:
        - port: 8080
          protocol: http
          name: http
      localities:
        - region: eu-west
          zone: eu-west-1a
          subzone: rack-1
          endpoints: 3
          healthy: 2
  globex: []
`;

function errorOf(text: string, source = 'services.yaml'): string {
  try {
    parseServicesFile(text, source);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected parseServicesFile to throw');
}

describe('parseServicesFile', () => {
  it('parses a valid file', () => {
    expect(parseServicesFile(VALID, 'services.yaml')).toEqual({
      ingressAddress: '10.0.0.1:10001',
      tenants: {
        acme: [
          {
            namespace: 'default',
            name: 'web',
            ports: [{ port: 8080, protocol: 'http', name: 'http' }],
            localities: [{ region: 'eu-west', zone: 'eu-west-1a', subzone: 'rack-1', endpoints: 3, healthy: 2 }],
          },
        ],
        globex: [],
      },
    });
  });

  it('reads an empty file, or one with only comments, as no services', () => {
    expect(parseServicesFile('', 'services.yaml')).toEqual({ tenants: {} });
    expect(parseServicesFile('# nothing yet\n', 'services.yaml')).toEqual({ tenants: {} });
  });

  it('names the source and says the YAML is invalid, on one line', () => {
    const message = errorOf('tenants: [\n', 'zone-a.yaml');
    expect(message).toMatch(/^zone-a\.yaml: not valid YAML: /);
    expect(message).not.toContain('\n');
  });

  it('reports schema errors with the path they are at', () => {
    const message = errorOf(VALID.replace('port: 8080', 'port: 70000'));
    expect(message).toMatch(/^services\.yaml: /);
    expect(message).toContain('/tenants/acme/0/ports/0/port');
    expect(message).toMatch(/65535/);
  });

  it('reports every problem, each with its own path', () => {
    const message = errorOf(VALID.replace('endpoints: 3', 'endpoints: -1').replace('name: http', 'name: http\n          extra: 1'));
    expect(message).toContain('/tenants/acme/0/localities/0/endpoints');
    expect(message).toContain('/tenants/acme/0/ports/0/extra');
  });

  it('refuses unknown top-level fields', () => {
    expect(errorOf('tenants: {}\nfoo: 1\n')).toContain('/foo');
  });

  it('refuses tenant names that are not DNS labels', () => {
    expect(errorOf('tenants:\n  Bad_Name: []\n')).toContain('/tenants/Bad_Name');
  });

  it('refuses a file without tenants, and a file that is not a mapping', () => {
    expect(errorOf('ingressAddress: 10.0.0.1:1\n')).toContain('/tenants');
    expect(errorOf('42\n')).toMatch(/^services\.yaml: \/: /);
  });

  it('refuses an unknown protocol and a missing service name', () => {
    expect(errorOf(VALID.replace('protocol: http', 'protocol: smtp'))).toContain('/tenants/acme/0/ports/0/protocol');
    expect(errorOf(VALID.replace('      name: web\n', ''))).toContain('/tenants/acme/0/name');
  });
});
