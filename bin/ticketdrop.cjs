#!/usr/bin/env node
// `npx ticketdrop workflow …`: the debugging views (tools/inspect); `npx ticketdrop fan-token <fanId>`: a
// token from the local dev issuer (tools/dev/fan-token.ts). Both run from source through tsx.
require('tsx/cjs');
if (process.argv[2] === 'fan-token') require('../tools/dev/fan-token.ts').main();
else require('../tools/inspect/cli.ts').main();
