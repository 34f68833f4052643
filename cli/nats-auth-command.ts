import { Command } from 'commander';
import { join } from 'node:path';
import { ACCOUNT_SEED_FILE, AUTHORITY_FILE, SERVER_CONFIG_FILE, ensureNatsAuthority } from '../deploy/local/nats-authority.js';
import { runAction } from './run.js';

export function natsAuthCommand(): Command {
  const command = new Command('nats-auth').description('NATS authorization for a federation: per-zone NATS permissions signed by the global CP.');
  command
    .command('init')
    .description('Create the operator, account and system keys (once; re-running keeps them) and the nats-server config fragment.')
    .requiredOption('--dir <dir>', 'where to write the keys (mode 600) and the config fragment')
    .action(
      runAction('meshfed nats-auth init', async (flags: { dir: string }) => {
        const { created } = await ensureNatsAuthority(flags.dir);
        console.log(`${created ? 'created' : 'kept the existing'} NATS authority in ${flags.dir}`);
        console.log(`  ${join(flags.dir, SERVER_CONFIG_FILE)}  include it in nats-server's config (public JWTs only)`);
        console.log(`  ${join(flags.dir, ACCOUNT_SEED_FILE)}      give it to the global CP: --nats-account-seed-file (secret)`);
        console.log(`  ${join(flags.dir, AUTHORITY_FILE)}    all seeds (secret; keep offline)`);
      }),
    );
  return command;
}
