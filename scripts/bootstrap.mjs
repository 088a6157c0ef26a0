#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs the npm dependencies on a fresh clone (or after
// package-lock.json or a patch changed), so the two README commands are all a machine needs. Plain Node,
// no deps.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.ticketdrop-lock-hash');
// The patches applied on install (patch-package, see patches/README.md) count as part of the lock; the
// folder's README does not.
const patches = path.join(root, 'patches');
const digest = createHash('sha256').update(readFileSync(lock));
for (const file of existsSync(patches) ? readdirSync(patches).sort() : [])
  if (file.endsWith('.patch')) digest.update(file).update(readFileSync(path.join(patches, file)));
const hash = digest.digest('hex');

if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
  console.log('Installing npm dependencies (npm ci)…');
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const result = spawnSync(npm[0], [...npm[1], 'ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('npm ci failed (output above).');
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, hash);
}
