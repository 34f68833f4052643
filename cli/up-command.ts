import { Command, Option } from 'commander';
import { relative } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { meshfedVersion } from '../core/version.js';
import { startLocalFederation } from '../deploy/local/up.js';
import { runAction, untilSignal } from './run.js';

interface UpFlags {
  dataDir: string;
  port: string;
  logLevel: string;
}

export function upCommand(): Command {
  return new Command('up')
    .description('Run a local federation: Redis, NATS JetStream and a global CP, until Ctrl-C.')
    .addOption(new Option('--data-dir <dir>', 'where Redis and NATS keep their data and the admin token is written').default('.meshfed'))
    .addOption(new Option('--port <port>', 'preferred port of the global CP API').default('5681'))
    .addOption(new Option('--log-level <level>', 'log level of the global CP').choices(['trace', 'debug', 'info', 'warn', 'error']).default('warn'))
    .action(
      runAction('meshfed up', async (flags: UpFlags) => {
        const say = (line: string) => console.log(line);
        const port = Number(flags.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`--port: "${flags.port}" is not a port number`);
        const federation = await startLocalFederation({ dataDir: flags.dataDir, port, version: meshfedVersion(), logLevel: flags.logLevel, say });
        say('');
        say(`meshfed ${meshfedVersion()} is up.`);
        say(`  API          ${federation.globalCp.url}/api/v1   (OpenAPI: ${federation.globalCp.url}/openapi.json)`);
        say(`  admin token  ${relative(process.cwd(), federation.adminTokenFile)}   (mode 600; never printed)`);
        say('');
        say('Try it from another terminal, in this directory (meshfedctl finds .meshfed/meshfedctl.yaml by itself):');
        say('  node dist/cli/meshfedctl.js apply -f deploy/examples/quickstart.yaml --token-dir .meshfed/zone-tokens');
        say('  node dist/cli/meshfedctl.js get tenants');
        say('  node dist/cli/meshfedctl.js get policies --tenant acme');
        say(`From elsewhere: export MESHFED_CONFIG=${federation.ctlConfigFile}   (npm link puts meshfed and meshfedctl on PATH)`);
        say('');
        say('Then run a zone CP for zone-a (its token was written by apply --token-dir):');
        say(`  node dist/cli/meshfed.js zone-cp --zone zone-a --global ${federation.globalCp.url} --nats ${federation.nats.url} \\`);
        say('    --token-file .meshfed/zone-tokens/zone-a.token --state-dir .meshfed/zone-a \\');
        say('    --services-file deploy/examples/services-zone-a.yaml --listen 127.0.0.1:5682');
        say('  node dist/cli/meshfedctl.js get zones          # zone-a turns online');
        say('');
        say('Ctrl-C stops everything.');
        const signal = await untilSignal();
        say(`\n${signal}: stopping global CP, NATS, Redis …`);
        await federation.stop();
        say('stopped.');
      }),
    );
}
