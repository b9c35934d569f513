// What the e2e tests share: the browser, the nginx that run.sh started
// (its origins and error log), and whole steps of the page's flows.
// Codes are read where a person would see them: the log provider's line
// in the error log.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = process.env;
export const API = env.E2E_API;             // API and page on one origin
export const CROSS = env.E2E_CROSS;         // the page alone, allowed by smsverify_cors
export const STRANGER = env.E2E_STRANGER;   // the page alone, not allowed
export const SHORT = env.E2E_SHORT;         // API and page, codes live 2s
export const ARTIFACTS = env.E2E_ARTIFACTS;

if (!API || !env.E2E_ERROR_LOG) {
  throw new Error('run these tests through t/e2e/run.sh');
}

let browser;

// One headless Chromium for the test file that calls this.
export function useBrowser() {
  before(async () => {
    browser = await chromium.launch({
      executablePath: env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
  });
}

// A fresh browser context (its own cookie jar) with the page at base + '/'.
export async function open(t, base, { context } = {}) {
  if (!context) {
    context = await browser.newContext({
      viewport: { width: 520, height: 860 },
      locale: 'ko-KR',
    });
    t.after(() => context.close());
  }
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  t.after(() => assert.deepEqual(problems, [], 'no script errors'));
  await page.goto(base + '/');
  return { page, context };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true });
}

// Codes the log provider wrote for a phone ending in last4, oldest first:
// smsverify log provider: to "+82 10-****-5678" message "... [123456] ..."
export function loggedCodes(last4) {
  const log = fs.readFileSync(env.E2E_ERROR_LOG, 'utf8');
  const codes = [];
  for (const line of log.split('\n')) {
    const m = line.match(/smsverify log provider: to "[^"]*-(\d{4})" message "[^"]*?\[(\d+)\]/);
    if (m && m[1] === last4) {
      codes.push(m[2]);
    }
  }
  return codes;
}

// Runs action (which sends a code to phone) and returns the new code.
export async function newCode(phone, action) {
  const last4 = phone.slice(-4);
  const before = loggedCodes(last4).length;
  await action();
  for (let i = 0; i < 50; i++) {
    const codes = loggedCodes(last4);
    if (codes.length > before) {
      return codes.at(-1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no code in the error log for ' + phone);
}

// A message box: its error word and its two sentences.
export async function message(page, box) {
  return page.locator('#' + box).evaluate((el) => ({
    kind: el.className.replace('msg', '').trim(),
    error: el.dataset.error,
    ko: el.querySelector('p.ko')?.textContent,
    en: el.querySelector('p.en')?.textContent,
  }));
}

// Clicks and waits for the page to call path and answer it in the DOM.
export async function click(page, selector, urlPath) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === urlPath
                                && r.request().method() === 'POST'),
    page.click(selector),
  ]);
  await page.locator('main[aria-busy=false]').waitFor({ state: 'attached' });
  return res;
}

// Phone step: send a code to phone, read it, confirm it.
export async function verifyPhone(page, phone) {
  await page.fill('#phone', phone);
  const code = await newCode(phone, () => click(page, '#send', '/sms/verification'));
  await page.locator('#code-form').waitFor();
  await page.fill('#code', code);
  await click(page, '#confirm', '/sms/verification/confirm');
  await page.locator('#step-member').waitFor();
  return code;
}

export async function fillMember(page, { email, password = 'Passw0rd!', nickname, terms = [1, 2] }) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.fill('#nickname', nickname);
  for (const id of [1, 2, 3]) {
    await page.locator(`input[name=terms][value="${id}"]`).setChecked(terms.includes(id));
  }
}

// Holds the page's requests to urlPath for ms, to look at it in flight.
export async function slow(page, urlPath, ms) {
  await page.route((url) => url.pathname === urlPath, async (route) => {
    await new Promise((r) => setTimeout(r, ms));
    await route.continue();
  });
}

// POST a JSON body to the API from node (no browser, no cookies).
export async function apiPost(p, body) {
  const res = await fetch(API + p, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, data: await res.json() };
}

// A member made through the API directly (not the page); its memberId.
export async function apiMember(phone, email, { password = 'Passw0rd!', nickname = 'first' } = {}) {
  const code = await newCode(phone, async () => {
    assert.equal((await apiPost('/sms/verification', { phoneNumber: phone })).status, 200);
  });
  const c = await apiPost('/sms/verification/confirm', { phoneNumber: phone, verificationNumber: code });
  assert.equal(c.status, 200);
  const s = await apiPost('/members/signup', {
    email, password, nickname, phoneNumber: phone,
    termsId: [1, 2], verificationToken: c.data.verificationToken,
  });
  assert.equal(s.status, 200);
  return s.data.memberId;
}
