// The blog's page in a real browser, through the ticketctl ingress: Debian's chromium, headless,
// driven by playwright-core. Creates a post and a comment by typing and clicking, and waits for
// the rendered list to show the comment approved by the moderation service.
//
//   node blog.mjs --url http://posts.com:PORT/ [--screenshot out.png] [--chromium /usr/bin/chromium]
//
// The page must be reached by the host name the Ingress rule names (posts.com); chromium maps
// that name to 127.0.0.1 itself (--host-resolver-rules), so /etc/hosts is left alone.
// Exit status: 0 pass, 1 the page did not behave, 2 usage.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const usage = 'usage: node blog.mjs --url http://posts.com:PORT/ [--screenshot FILE] [--chromium PATH]';

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      url: { type: 'string' },
      screenshot: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      timeout: { type: 'string', default: '30000' },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
if (!options.url) {
  console.error(usage);
  process.exit(2);
}
const timeout = Number(options.timeout);
const host = new URL(options.url).hostname;

// Every step says what it is doing, so a failure names the step that did not happen.
let step = 'starting';
const stepTo = (what) => {
  step = what;
  console.log(`blog.mjs: ${what}`);
};

// A fresh profile each run: no cache, cookies or service workers from an earlier run.
const profile = mkdtempSync(join(tmpdir(), 'ticketctl-chromium-'));
let context;
let page;
let failed = false;
try {
  stepTo(`launching ${options.chromium}`);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    timeout,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=MAP ${host} 127.0.0.1`,
    ],
  });
  context.setDefaultTimeout(timeout);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => console.log(`page console.${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) console.log(`page got ${res.status()} for ${res.request().method()} ${res.url()}`);
  });

  stepTo(`opening ${options.url}`);
  const response = await page.goto(options.url, { waitUntil: 'load' });
  if (!response || !response.ok())
    throw new Error(`GET ${options.url} answered ${response ? response.status() : 'nothing'}`);

  const title = `Browser post ${Date.now().toString(36)}`;
  stepTo(`creating post "${title}"`);
  await page.locator('#post-title').fill(title);
  await page.locator('#create-post').click();
  const card = page.locator('.post', { has: page.locator('.post-title', { hasText: title }) });
  await card.waitFor({ state: 'visible' });

  const content = 'Typed in a real browser';
  stepTo(`commenting "${content}"`);
  await card.locator('.comment-input').fill(content);
  await card.locator('.add-comment').click();

  stepTo('waiting for the comment to be approved by moderation');
  const approved = card.locator('.comment[data-status="approved"]', { hasText: content });
  await approved.waitFor({ state: 'visible' });

  const error = await page.locator('#error').textContent();
  if (await page.locator('#error').isVisible()) throw new Error(`the page shows an error: ${error}`);
  const count = await card.locator('.comment-count').textContent();
  if (count !== '1 comments') throw new Error(`the card counts "${count}", expected "1 comments"`);
  console.log(`blog.mjs: ok — post "${title}" shows comment "${content}" approved`);
} catch (err) {
  failed = true;
  console.error(`blog.mjs: FAILED while ${step}: ${err.message.split('\n')[0]}`);
  if (page) console.error(`blog.mjs: #posts was: ${await page.locator('#posts').innerHTML().catch(() => '?')}`);
} finally {
  // The screenshot is kept on failure too: it shows where the page got to.
  if (page && options.screenshot) {
    try {
      mkdirSync(dirname(options.screenshot), { recursive: true });
      await page.screenshot({ path: options.screenshot, fullPage: true });
      console.log(`blog.mjs: screenshot ${options.screenshot}`);
    } catch (err) {
      console.error(`blog.mjs: no screenshot: ${err.message.split('\n')[0]}`);
    }
  }
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
