#!/usr/bin/env node
// lowbit-tp command line: run, eval, calibrate, bench, demo.
import { codecDemo, formatDemo } from './demo.js';

const HELP = `lowbit-tp — tensor-parallel LLM inference in WebAssembly SIMD with low-bit all-reduce

usage: lowbit-tp <command> [options]
  demo         codec demo: synthetic TP partial sums with outlier features, bits/value and error per mode
  help         this text
`;

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help'] = argv;
  switch (cmd) {
    case 'demo': {
      console.log('lowbit-tp codec demo: TP 2, 64 tokens × 576 features, 12 planted outlier features, calibrated on separate samples');
      console.log(formatDemo(await codecDemo()));
      return 0;
    }
    case 'help': case '--help': case '-h':
      console.log(HELP);
      return 0;
    default:
      console.error(`unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`lowbit-tp: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
