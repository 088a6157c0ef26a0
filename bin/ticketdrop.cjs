#!/usr/bin/env node
// `npx ticketdrop workflow …`: the debugging views (src/inspect), run from source through tsx.
require('tsx/cjs');
require('../src/inspect/cli.ts').main();
