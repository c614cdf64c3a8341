#!/usr/bin/env node
import { main } from '../build/src/cli/index.js';

// A reader that left (`wirespan read ... --exchanges - | head`) ends the run the way SIGPIPE ends
// tcpdump or tshark: at once, silently, with the shell's status for it (128 + 13).
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(141);
  throw err;
});

process.exitCode = await main(process.argv);
