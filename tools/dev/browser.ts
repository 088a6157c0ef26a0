/**
 * Headless Chromium for the browser tests and the dashboard benchmark: the system's browser (see
 * `ensureChromium`), never a downloaded one, with a new empty profile that is removed on close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureChromium } from './provision';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<HeadlessChromium> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'ticketdrop-chromium-'));
  try {
    // The persistent context is Playwright's way to pass our own (new, empty) --user-data-dir.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: ensureChromium(),
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
}
