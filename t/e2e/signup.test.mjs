// The signup page of conf/html in headless Chromium, against the nginx that
// run.sh starts (helpers in lib.mjs).  Screenshots go to $E2E_ARTIFACTS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  env, API, CROSS, STRANGER, SHORT, useBrowser, open, shot, loggedCodes,
  newCode, message, click, verifyPhone, fillMember, slow, apiMember,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

useBrowser();

// ---- the cases -------------------------------------------------------------

test('happy path: send, confirm, sign up on one origin', { timeout: 30000 }, async (t) => {
  const { page, context } = await open(t, API);
  const phone = '010-2000-0001';

  assert.equal(await page.evaluate(() => window.smsverify.api), '');
  await shot(page, '01-phone');

  // buttons are disabled while a request is in flight
  await page.fill('#phone', phone);
  await slow(page, '/sms/verification', 400);
  const code = await newCode(phone, async () => {
    const answered = page.waitForResponse((r) => r.url().endsWith('/sms/verification'));
    await page.click('#send');
    assert.equal(await page.isDisabled('#send'), true, 'send disabled in flight');
    assert.equal(await page.isDisabled('#confirm'), true, 'confirm disabled in flight');
    await answered;
  });
  await page.unrouteAll();

  await page.locator('#code-form').waitFor();
  assert.match(await page.textContent('#timer'), /^(3:00|2:5\d)$/, 'countdown from expiresIn=180');
  assert.equal(await page.isDisabled('#resend'), true, 'resend waits for resendAfter');
  assert.match(await page.textContent('#resend-wait'), /^\((30|29|28)\)$/);
  assert.equal(await page.isDisabled('#send'), true, 'send again only by resend');
  const sent = await message(page, 'phone-msg');
  assert.equal(sent.kind, 'info');
  assert.match(sent.en, /\+821020000001/);

  await page.fill('#code', code);
  await shot(page, '02-code');
  await click(page, '#confirm', '/sms/verification/confirm');
  await page.locator('#step-member').waitFor();
  assert.equal((await message(page, 'phone-msg')).kind, 'ok');

  // the token is an HttpOnly cookie the script cannot read
  const cookie = (await context.cookies(API)).find((c) => c.name === 'smsverify_token');
  assert.ok(cookie, 'confirm set smsverify_token');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('smsverify_token')), false);

  await fillMember(page, { email: 'kim@example.com', nickname: '김개발', terms: [1, 2, 3] });
  await shot(page, '03-member');

  await slow(page, '/members/signup', 400);
  const answered = page.waitForResponse((r) => r.url().endsWith('/members/signup'));
  await page.click('#signup');
  assert.equal(await page.isDisabled('#signup'), true, 'signup disabled in flight');
  const res = await answered;
  await page.unrouteAll();

  // no verificationToken in the body: the cookie carried it
  const body = JSON.parse(res.request().postData());
  assert.equal('verificationToken' in body, false);
  assert.deepEqual(body.termsId, [1, 2, 3]);
  assert.equal(res.status(), 200);

  await page.locator('#step-done').waitFor();
  assert.equal(await page.textContent('#done-nickname'), '김개발');
  assert.match(await page.textContent('#done-id'), /^\d+$/);
  assert.equal(await page.isHidden('#step-phone'), true);
  assert.equal((await context.cookies(API)).some((c) => c.name === 'smsverify_token'), false,
               'signup cleared the cookie');
  await shot(page, '04-done');
});

test('a wrong code shows the mismatch sentence with attempts left', { timeout: 30000 }, async (t) => {
  const { page } = await open(t, API);
  const phone = '010-2000-0002';

  await page.fill('#phone', phone);
  const code = await newCode(phone, () => click(page, '#send', '/sms/verification'));
  const wrong = code.slice(0, -1) + ((Number(code.at(-1)) + 1) % 10);

  await page.fill('#code', wrong);
  const res = await click(page, '#confirm', '/sms/verification/confirm');
  assert.equal(res.status(), 400);

  const m = await message(page, 'phone-msg');
  assert.equal(m.error, 'CODE_MISMATCH');
  assert.equal(m.ko, '인증번호가 일치하지 않습니다. 남은 횟수: 4회');
  assert.equal(m.en, 'The code does not match. Attempts left: 4.');
  assert.equal(await page.getAttribute('#code', 'aria-invalid'), 'true');
  assert.equal(await page.isVisible('#step-member'), false);
  await shot(page, '05-wrong-code');

  // a wrong guess does not burn the code
  await page.fill('#code', code);
  await click(page, '#confirm', '/sms/verification/confirm');
  await page.locator('#step-member').waitFor();
});

test('an expired code says so, and resend brings a new one', { timeout: 30000 }, async (t) => {
  const { page } = await open(t, SHORT);   // smsverify_code_ttl 2s, resend 2s
  const phone = '010-2000-0003';

  await page.fill('#phone', phone);
  const code = await newCode(phone, () => click(page, '#send', '/sms/verification'));
  assert.match(await page.textContent('#timer'), /^0:0[12]$/);

  await page.locator('#timer.expired').waitFor();
  assert.equal(await page.textContent('#timer'), '0:00');
  await page.waitForTimeout(300);

  await page.fill('#code', code);
  const res = await click(page, '#confirm', '/sms/verification/confirm');
  assert.equal(res.status(), 410);
  const m = await message(page, 'phone-msg');
  assert.equal(m.error, 'CODE_EXPIRED');
  assert.equal(m.ko, '인증번호가 만료되었습니다. 인증번호를 다시 받아 주세요.');
  assert.equal(m.en, 'The code has expired. Please ask for a new one.');
  await shot(page, '06-expired');

  assert.equal(await page.isEnabled('#resend'), true, 'resendAfter (2s) has passed');
  const fresh = await newCode(phone, () => click(page, '#resend', '/sms/verification'));
  await page.fill('#code', fresh);
  await click(page, '#confirm', '/sms/verification/confirm');
  await page.locator('#step-member').waitFor();
});

test('required terms, then a taken email, then a good signup', { timeout: 30000 }, async (t) => {
  await apiMember('010-2000-0004', 'taken@example.com');

  const { page } = await open(t, API);
  await verifyPhone(page, '010-2000-0005');

  await fillMember(page, { email: 'park@example.com', nickname: 'park', terms: [3] });
  let res = await click(page, '#signup', '/members/signup');
  assert.equal(res.status(), 400);
  let m = await message(page, 'member-msg');
  assert.equal(m.error, 'TERMS_REQUIRED');
  assert.equal(m.ko, '필수 약관에 동의해 주세요. (1, 2번)');
  assert.equal(m.en, 'Please agree to the required terms (no. 1, 2).');

  // emails are compared without regard to case
  await fillMember(page, { email: 'Taken@Example.com', nickname: 'park' });
  res = await click(page, '#signup', '/members/signup');
  assert.equal(res.status(), 409);
  m = await message(page, 'member-msg');
  assert.equal(m.error, 'EMAIL_TAKEN');
  assert.equal(m.ko, '이미 가입된 이메일 주소입니다.');
  assert.equal(m.en, 'This email address is already registered.');
  assert.equal(await page.getAttribute('#email', 'aria-invalid'), 'true');
  await shot(page, '07-email-taken');

  // the failed signup left the phone's verification usable
  await page.fill('#email', 'park@example.com');
  res = await click(page, '#signup', '/members/signup');
  assert.equal(res.status(), 200);
  await page.locator('#step-done').waitFor();
});

test('cross-origin: the page on another port, through smsverify_cors', { timeout: 30000 }, async (t) => {
  const { page, context } = await open(t, CROSS);
  assert.equal(await page.evaluate(() => window.smsverify.api), API);

  await verifyPhone(page, '010-2000-0006');
  assert.ok((await context.cookies(API)).some((c) => c.name === 'smsverify_token'),
            'the cross-origin confirm set the cookie');

  await fillMember(page, { email: 'lee@example.com', nickname: 'lee' });
  const res = await click(page, '#signup', '/members/signup');
  assert.equal(new URL(res.url()).origin, API);
  assert.equal(res.headers()['access-control-allow-origin'], CROSS);
  assert.equal(res.headers()['access-control-allow-credentials'], 'true');
  assert.equal(res.status(), 200, 'the cookie went along cross-origin');
  await page.locator('#step-done').waitFor();
  await shot(page, '08-cross-origin-done');
});

test('an origin outside smsverify_cors cannot call the API', { timeout: 30000 }, async (t) => {
  const { page } = await open(t, STRANGER);
  await page.fill('#phone', '010-2000-0007');
  await page.click('#send');
  await page.locator('#phone-msg.error').waitFor();
  const m = await message(page, 'phone-msg');
  assert.equal(m.error, 'NETWORK');
  assert.equal(await page.isEnabled('#send'), true, 'send can be tried again');
  await shot(page, '09-stranger-origin');
  assert.deepEqual(loggedCodes('0007'), [], 'the preflight stopped it before a send');
});

test('every error word of API.md has a Korean and an English sentence', async (t) => {
  const words = new Set([
    'METHOD_NOT_ALLOWED', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_JSON', 'MISSING_FIELD',
    'INVALID_FIELD', 'BUSY', 'INTERNAL', 'INVALID_PHONE', 'COUNTRY_NOT_ALLOWED',
    'PHONE_TAKEN', 'RESEND_TOO_SOON', 'SEND_LIMIT', 'PROVIDER_FAILED', 'CODE_MISMATCH',
    'NO_PENDING_CODE', 'CODE_EXPIRED', 'TOO_MANY_ATTEMPTS', 'INVALID_EMAIL',
    'INVALID_PASSWORD', 'INVALID_NICKNAME', 'TERMS_REQUIRED', 'UNKNOWN_TERMS',
    'PHONE_NOT_VERIFIED', 'EMAIL_TAKEN',
  ]);
  // the contract itself, where shared/ sits beside the repository:
  // the words in the error cell of table rows that start with a status
  const spec = env.E2E_API_MD || path.join(here, '../../../shared/spec/API.md');
  if (fs.existsSync(spec)) {
    const text = fs.readFileSync(spec, 'utf8');
    for (const m of text.matchAll(/\b\d{3} `([A-Z][A-Z_]+)`/g)) {
      words.add(m[1]);      // in prose: 400 `INVALID_PHONE`
    }
    for (const row of text.split('\n')) {
      const cells = row.split('|');
      if (/^\s*(\w+ )?\d{3}\s*$/.test(cells[1] ?? '')) {
        for (const m of cells[2].matchAll(/`([A-Z][A-Z_]+)`/g)) {
          words.add(m[1]);
        }
      }
    }
  } else {
    t.diagnostic(`${spec} not found: checking the built-in list only`);
  }
  t.diagnostic(`${words.size} error words`);

  const { page } = await open(t, API);
  const sentences = await page.evaluate((ws) => ws.map((w) => [w, w in window.smsverify.errors,
    window.smsverify.describe({ error: w, field: 'email', attemptsLeft: 2, retryAfter: 30,
                                missing: [1], unknown: [9], httpStatus: 400 })]), [...words]);
  for (const [word, known, [ko, en]] of sentences) {
    assert.ok(known, `${word} has sentences`);
    assert.match(ko, /[가-힣]/, `${word} in Korean`);
    assert.match(en, /^[\x20-\x7e]+$/, `${word} in English`);
    assert.doesNotMatch(ko + en, /undefined/, word);
  }
});
