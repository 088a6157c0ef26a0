#!/usr/bin/env node
// `npx ticketdrop workflow …`: the debugging views (tools/inspect), run from source through tsx.
require('tsx/cjs');
require('../tools/inspect/cli.ts').main();
