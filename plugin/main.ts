// pulumi-resource-vhostnet: the provider plugin's entry (run by the launcher that plugin/pack.sh
// makes). `--schema` prints the package schema instead of serving, for the SDK generators.
import { buildSchema } from './schema';
import { serve } from './server';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--schema')) {
    process.stdout.write(`${JSON.stringify(await buildSchema(), null, 2)}\n`);
    return;
  }
  await serve();
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`pulumi-resource-vhostnet: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
