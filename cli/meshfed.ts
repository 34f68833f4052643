#!/usr/bin/env node
import { Command } from 'commander';
import { meshfedVersion } from '../core/version.js';
import { gatewayCommand } from './gateway-command.js';
import { globalCpCommand } from './global-cp-command.js';
import { upCommand } from './up-command.js';
import { zoneCpCommand } from './zone-cp-command.js';
import { natsAuthCommand } from './nats-auth-command.js';

const program = new Command('meshfed')
  .description('meshfed: multi-zone, multi-tenant service-mesh federation.')
  .version(meshfedVersion())
  .addCommand(upCommand())
  .addCommand(globalCpCommand())
  .addCommand(zoneCpCommand())
  .addCommand(gatewayCommand())
  .addCommand(natsAuthCommand())
  .showHelpAfterError('(run with --help for usage)');

await program.parseAsync(process.argv);
