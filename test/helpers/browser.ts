// SPDX-License-Identifier: Apache-2.0
/**
 * Headless Chromium from Debian (`chromium`, scripts/install-deps.sh) driven by puppeteer-core,
 * which never downloads a browser: it is pointed at /usr/bin/chromium (FAULTD_CHROMIUM to use
 * another). Suites skip with the reason printed where it is missing. Screenshots go to
 * test-artifacts/console/ (gitignored).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import puppeteer, { type Browser, type Page } from 'puppeteer-core';

import { REPO_ROOT } from './cli.js';

export const CHROMIUM = process.env['FAULTD_CHROMIUM'] ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'console');

/** Why the browser suites cannot run here, or undefined when they can. */
export function chromiumOrReason(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}: apt-get install chromium (scripts/install-deps.sh), or set FAULTD_CHROMIUM`;
}

/** Launches headless Chromium with its own profile; closed (and the profile removed) at teardown. */
export async function launchBrowser(t: { teardown(fn: () => void | Promise<void>): void }): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'faultd-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // The test hub's certificate is signed by a CA made for the test, which Chromium does not know.
    acceptInsecureCerts: true,
    args: [
      // The privileged suites run as root, and Chromium refuses to start its setuid/namespace
      // sandbox as root ("Running as root without --no-sandbox is not supported"). The pages it
      // opens are the hub's own console on 127.0.0.1 only.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // /dev/shm is small in containers; Chromium then crashes tabs instead of using /tmp.
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--lang=en-US',
    ],
  });
  t.teardown(async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return browser;
}

export const DESKTOP = { width: 1280, height: 900 } as const;
/** A phone-sized viewport (390×844 CSS px at 3×, touch). */
export const PHONE = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;

/** Saves a screenshot (of the whole page by default) as test-artifacts/console/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/**
 * Collects what would mean the console is broken in this page: script errors, failed loads and
 * Content-Security-Policy refusals (Chromium logs "Refused to …" on the console).
 */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
  page.on('console', (message) => {
    const text = message.text();
    if (/Refused to|Content Security Policy/i.test(text)) problems.push(`CSP: ${text}`);
  });
  return problems;
}

/*
 * What the tests read in the page, as expressions evaluated there: the tests are compiled
 * without the DOM's types (they would leak into the Node code), so nothing here is typed as an
 * element on this side.
 */
function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

const q = (selector: string): string => `document.querySelector(${JSON.stringify(selector)})`;

/** The text content of the first element matching `selector` ('' when there is none). */
export function textOf(page: Page, selector: string): Promise<string> {
  return inPage(page, `${q(selector)}?.textContent ?? ''`);
}

/** The text content of every element matching `selector`. */
export function textsOf(page: Page, selector: string): Promise<string[]> {
  return inPage(page, `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.textContent ?? '')`);
}

/** An attribute of the first element matching `selector` ('' when there is none). */
export function attributeOf(page: Page, selector: string, name: string): Promise<string> {
  return inPage(page, `${q(selector)}?.getAttribute(${JSON.stringify(name)}) ?? ''`);
}

export function exists(page: Page, selector: string): Promise<boolean> {
  return inPage(page, `${q(selector)} !== null`);
}

/** Sets a text field's value as typing would (an `input` event the page's framework hears). */
export function fill(page: Page, selector: string, value: string): Promise<void> {
  return inPage(page, `(() => { const e = ${q(selector)}; e.value = ${JSON.stringify(value)}; e.dispatchEvent(new Event('input', { bubbles: true })); })()`);
}

/** True when `expression` holds in the page. */
export function holds(page: Page, expression: string): Promise<boolean> {
  return inPage(page, `Boolean(${expression})`);
}

/** A canvas' picture as a data URL (to see it change). */
export function canvasImage(page: Page, selector: string): Promise<string> {
  return inPage(page, `${q(selector)}.toDataURL()`);
}

/** The form controls of the page with no label (a <label>, aria-label or aria-labelledby): none is expected. */
export function unlabelledControls(page: Page): Promise<string[]> {
  return inPage(page, `[...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length > 0) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map((e) => e.outerHTML.slice(0, 120))`);
}
