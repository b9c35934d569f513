// The account half of the page in conf/html (API.md section 3): login, the
// "logged in as" view, logout, the members-only page behind
// smsverify_auth member, and the password reset; against the nginx that
// run.sh starts (smsverify_login_limit 3 1m there).  Helpers in lib.mjs;
// screenshots go to $E2E_ARTIFACTS as account-*.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  env, API, CROSS, useBrowser, open, shot, loggedCodes, newCode, message,
  click, verifyPhone, fillMember, slow, apiMember,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

useBrowser();

const LOGIN_FAILED = {
  kind: 'error',
  error: 'LOGIN_FAILED',
  ko: '이메일(또는 휴대폰 번호)이나 비밀번호가 올바르지 않습니다.',
  en: 'The email (or mobile number) or the password is not right.',
};
const NOT_LOGGED_IN = {
  kind: 'error',
  error: 'NOT_LOGGED_IN',
  ko: '로그인이 필요합니다. 로그인하지 않았거나 로그인이 만료되었습니다.',
  en: 'Please log in: you are not logged in, or your session has ended.',
};

// ---- helpers ---------------------------------------------------------------

async function sessionCookie(context) {
  return (await context.cookies(API)).find((c) => c.name === 'smsverify_session');
}

// GET session with the context's cookies: [status, body].
async function session(context) {
  const res = await context.request.get(API + '/members/session');
  return [res.status(), await res.json()];
}

// Loads the page again; the status of the GET session it asks on load.
async function reload(page) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/members/session'),
    page.reload(),
  ]);
  await page.locator('main[aria-busy=false]').waitFor({ state: 'attached' });
  return res.status();
}

// The login view: fill it, log in, wait for the answer (and GET session).
async function login(page, account, password) {
  if (!(await page.isVisible('#view-login'))) {
    await page.click('#tab-login');
  }
  await page.fill('#login-account', account);
  await page.fill('#login-password', password);
  const res = await click(page, '#login', '/members/login');
  if (res.status() === 200) {
    await page.locator('#account').waitFor();
  }
  return res;
}

// The account view as a person reads it.
async function accountView(page) {
  return {
    nickname: await page.textContent('#me-nickname'),
    email: await page.textContent('#me-email'),
    phone: await page.textContent('#me-phone'),
    id: await page.textContent('#me-id'),
    expiresKo: await page.textContent('#me-expires .ko'),
    expiresEn: await page.textContent('#me-expires .en'),
  };
}

// ---- the cases -------------------------------------------------------------

test('a signup logs in: the welcome and the account view', { timeout: 30000 }, async (t) => {
  const { page, context } = await open(t, API);

  await verifyPhone(page, '010-3000-0001');
  await fillMember(page, { email: 'choi@example.com', nickname: '최회원' });
  const [res, me] = await Promise.all([
    click(page, '#signup', '/members/signup'),
    page.waitForResponse((r) => new URL(r.url()).pathname === '/members/session'),
  ]);
  assert.equal(res.status(), 200);
  assert.equal(me.status(), 200, 'signup set the session cookie (smsverify_signup_login on)');

  await page.locator('#step-done').waitFor();
  await page.locator('#account').waitFor();
  const view = await accountView(page);
  assert.equal(view.nickname, '최회원');
  assert.equal(view.email, 'choi@example.com');
  assert.equal(view.phone, '010-****-0001', 'the phone is masked');
  assert.equal(view.id, String((await res.json()).memberId));
  // unused, it ends at its idle limit (idle=1d) before its TTL (7d)
  assert.match(view.expiresKo, /\(1일 후\)$/, 'smsverify_session_ttl 7d idle=1d');
  assert.match(view.expiresEn, /\(in 1 day\)$/);
  assert.equal(await page.isHidden('#tabs'), true, 'no signup/login tabs while logged in');
  assert.equal(await page.isHidden('#done-login'), true);

  // the session is an HttpOnly, SameSite=Lax cookie the script cannot read
  const cookie = await sessionCookie(context);
  assert.ok(cookie, 'signup set smsverify_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');
  assert.ok(cookie.expires > Date.now() / 1000 + 7 * 86400 - 60, 'Max-Age = the session TTL');
  assert.equal(await page.evaluate(() => document.cookie.includes('smsverify_session')), false);
  await shot(page, 'account-01-signed-up');

  // a new visit shows the account, not the forms
  assert.equal(await reload(page), 200);
  await page.locator('#account').waitFor();
  assert.equal(await page.isHidden('#view-signup'), true);
  assert.equal(await page.isHidden('#view-login'), true);
  assert.equal(await page.textContent('#me-nickname'), '최회원');
});

test('login: a wrong password and an unknown account read the same', { timeout: 30000 }, async (t) => {
  const id = await apiMember('010-3000-0002', 'jung@example.com',
                             { password: 'Right0ne!', nickname: 'jung' });
  const { page, context } = await open(t, API);

  await page.click('#tab-login');
  await page.locator('#view-login').waitFor();
  assert.equal(await page.isHidden('#view-signup'), true);
  await shot(page, 'account-02-login');

  let res = await login(page, 'jung@example.com', 'Wrong0ne!');
  assert.equal(res.status(), 401);
  const wrong = await message(page, 'login-msg');
  assert.deepEqual(wrong, LOGIN_FAILED);
  assert.equal(await page.getAttribute('#login-password', 'aria-invalid'), 'true');
  await shot(page, 'account-03-login-failed');

  res = await login(page, 'nobody@example.com', 'Wrong0ne!');
  assert.equal(res.status(), 401);
  assert.deepEqual(await message(page, 'login-msg'), wrong, 'unknown account: the same words');
  assert.equal(await sessionCookie(context), undefined);

  // the right password, by email (case-insensitive), with login in flight
  await page.fill('#login-account', 'Jung@Example.com');
  await page.fill('#login-password', 'Right0ne!');
  await slow(page, '/members/login', 400);
  const answered = page.waitForResponse((r) => r.url().endsWith('/members/login'));
  await page.click('#login');
  assert.equal(await page.isDisabled('#login'), true, 'login disabled in flight');
  res = await answered;
  await page.unrouteAll();
  assert.deepEqual(JSON.parse(res.request().postData()),
                   { email: 'Jung@Example.com', password: 'Right0ne!' });
  assert.equal(res.status(), 200);
  const body = await res.json();
  assert.equal(body.status, 'logged_in');
  assert.equal(body.memberId, id);
  await page.locator('#account').waitFor();
  assert.equal(await page.textContent('#me-nickname'), 'jung');
  assert.equal(await page.inputValue('#login-password'), '', 'the password is not kept');
  await shot(page, 'account-04-logged-in');

  // by phone, in another form than the signup's
  const other = await open(t, API);
  res = await login(other.page, '+82 10 3000 0002', 'Right0ne!');
  assert.deepEqual(JSON.parse(res.request().postData()),
                   { phoneNumber: '+82 10 3000 0002', password: 'Right0ne!' });
  assert.equal(res.status(), 200);
  assert.equal(await other.page.textContent('#me-email'), 'jung@example.com');
});

test('failed logins lock the account, and the page says for how long', { timeout: 30000 }, async (t) => {
  const { page } = await open(t, API);
  // smsverify_login_limit 3 1m; an account no member has is counted too
  for (let i = 0; i < 3; i++) {
    const res = await login(page, 'locked@example.com', 'Guess' + i + 'xyz');
    assert.equal(res.status(), 401, `failure ${i + 1}`);
  }
  const res = await login(page, 'locked@example.com', 'Guess3xyz');
  assert.equal(res.status(), 429);
  const body = await res.json();
  assert.ok(body.retryAfter > 0 && body.retryAfter <= 60, 'retryAfter within the 1m window');
  assert.equal(res.headers()['retry-after'], String(body.retryAfter));

  const m = await message(page, 'login-msg');
  assert.equal(m.error, 'LOGIN_LOCKED');
  const [ko, en] = await page.evaluate((d) => window.smsverify.describe(d), body);
  assert.equal(m.ko, ko);
  assert.equal(m.en, en);
  assert.match(m.ko, /^로그인 실패가 너무 많습니다\. (\d+초|1분) 후에 다시 시도해 주세요\.$/);
  assert.match(m.en, /^Too many failed logins for this account\. Try again in (\d+ seconds|1 minutes)\.$/);
  await shot(page, 'account-05-locked');
});

test('the members-only page greets the member nginx handed it', { timeout: 30000 }, async (t) => {
  const nickname = '<i>홍&길동</i>';           // the application escapes it
  const id = await apiMember('010-3000-0003', 'hong@example.com', { nickname });
  const { page, context } = await open(t, API);
  await login(page, 'hong@example.com', 'Passw0rd!');

  assert.equal(await page.getAttribute('#members-only', 'href'), '/members-only/');
  await Promise.all([page.waitForURL(API + '/members-only/'), page.click('#members-only')]);
  await page.locator('#members-only-page').waitFor();
  assert.equal(await page.textContent('#greet-nickname'), nickname, 'X-Member-Nickname');
  assert.equal(await page.textContent('#greet-id'), String(id), 'X-Member-Id');
  assert.equal(await page.textContent('#greet-email'), 'hong@example.com', 'X-Member-Email');
  assert.equal(await page.locator('#greet-nickname i').count(), 0, 'no markup from a nickname');
  await shot(page, 'account-06-members-only');

  // what the client sends never reaches the application as the member
  const spoofed = { 'X-Member-Id': '999999', 'X-Member-Email': 'evil@example.com',
                    'X-Member-Nickname': 'evil' };
  let res = await context.request.get(API + '/members-only/', { headers: spoofed });
  assert.equal(res.status(), 200);
  let html = await res.text();
  assert.match(html, new RegExp(`id="greet-id">${id}<`));
  assert.doesNotMatch(html, /999999|evil/);

  // and without a session they get the login page, not the application
  res = await fetch(API + '/members-only/', { headers: spoofed, redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(new URL(res.headers.get('location'), API).href, API + '/?login=required');
  html = await res.text();
  assert.doesNotMatch(html, /999999|evil|greet-/);
});

test('logout: the view is gone, the session too, members-only sends to login', { timeout: 30000 }, async (t) => {
  await apiMember('010-3000-0004', 'yoon@example.com', { nickname: 'yoon' });
  const { page, context } = await open(t, API);
  await login(page, 'yoon@example.com', 'Passw0rd!');
  const cookie = await sessionCookie(context);
  assert.ok(cookie);

  await slow(page, '/members/logout', 400);
  const answered = page.waitForResponse((r) => r.url().endsWith('/members/logout'));
  await page.click('#logout');
  assert.equal(await page.isDisabled('#logout'), true, 'logout disabled in flight');
  const res = await answered;
  await page.unrouteAll();
  assert.equal(res.status(), 200);
  assert.equal((await res.json()).status, 'logged_out');

  await page.locator('#view-login').waitFor();
  assert.equal(await page.isHidden('#account'), true, 'the account view is gone');
  assert.equal(await page.isVisible('#tabs'), true);
  const m = await message(page, 'login-msg');
  assert.equal(m.kind, 'ok');
  assert.equal(m.en, 'You are logged out.');
  assert.equal(await sessionCookie(context), undefined, 'the cookie is cleared');
  assert.deepEqual((await session(context))[0], 401);
  await shot(page, 'account-07-logged-out');

  // the old cookie, kept by someone, no longer opens anything: the store forgot it
  await context.addCookies([cookie]);
  const [status, body] = await session(context);
  assert.equal(status, 401);
  assert.equal(body.error, 'NOT_LOGGED_IN');
  await context.clearCookies();

  // the members-only page now sends the visitor to the login view
  await page.goto(API + '/members-only/');
  await page.waitForURL(API + '/#login');
  await page.locator('#view-login').waitFor();
  await page.locator('#login-msg.error').waitFor();
  assert.deepEqual(await message(page, 'login-msg'), NOT_LOGGED_IN);
  await shot(page, 'account-08-login-required');

  // logging in again there works
  await login(page, 'yoon@example.com', 'Passw0rd!');
  assert.equal(await page.textContent('#me-nickname'), 'yoon');
});

test('password reset: code, confirm, new password; the old one and its sessions end', { timeout: 40000 }, async (t) => {
  const phone = '010-3000-0005';
  await apiMember(phone, 'kang@example.com', { password: 'Old0password', nickname: 'kang' });

  // a session from before the reset, in another browser
  const before = await open(t, API);
  await login(before.page, 'kang@example.com', 'Old0password');
  assert.equal((await session(before.context))[0], 200);

  const { page, context } = await open(t, API);
  await page.click('#tab-login');
  await page.click('#forgot');
  await page.locator('#view-reset').waitFor();
  await shot(page, 'account-09-reset');

  // a phone no member has: NOT_A_MEMBER, and no SMS
  await page.fill('#reset-phone', '010-3000-0099');
  let res = await click(page, '#reset-send', '/members/password/reset/sms');
  assert.equal(res.status(), 404);
  let m = await message(page, 'reset-msg');
  assert.equal(m.error, 'NOT_A_MEMBER');
  assert.equal(m.ko, '이 휴대폰 번호로 가입한 회원이 없습니다.');
  assert.equal(m.en, 'No account has this mobile number.');
  assert.equal(await page.getAttribute('#reset-phone', 'aria-invalid'), 'true');
  assert.deepEqual(loggedCodes('0099'), []);

  // the member's phone: a code, in flight with the buttons disabled (the
  // signup's send to it was moments ago, and the phone's resend interval
  // holds for reset_send too: 1s in run.sh)
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await page.fill('#reset-phone', phone);
  await slow(page, '/members/password/reset/sms', 400);
  const code = await newCode(phone, async () => {
    const answered = page.waitForResponse((r) => r.url().endsWith('/members/password/reset/sms'));
    await page.click('#reset-send');
    assert.equal(await page.isDisabled('#reset-send'), true, 'send disabled in flight');
    res = await answered;
  });
  await page.unrouteAll();
  assert.equal(res.status(), 200);
  assert.equal((await res.json()).status, 'sent');
  await page.locator('#reset-code-form').waitFor();
  assert.match(await page.textContent('#reset-timer'), /^(3:00|2:5\d)$/);

  // confirmed at the same confirm endpoint; its token is a cookie
  await page.fill('#reset-code', code);
  res = await click(page, '#reset-confirm', '/sms/verification/confirm');
  assert.equal(res.status(), 200);
  await page.locator('#reset-step-password').waitFor();
  assert.equal(await page.evaluate(() => document.cookie.includes('smsverify_token')), false);

  // the new password follows the signup rules
  await page.fill('#reset-password', 'short');
  res = await click(page, '#reset-submit', '/members/password/reset');
  assert.equal(res.status(), 400);
  m = await message(page, 'reset-password-msg');
  assert.equal(m.error, 'INVALID_PASSWORD');
  assert.equal(m.en, 'The password must be 8 to 64 characters with a letter and a digit.');
  assert.equal(await page.getAttribute('#reset-password', 'aria-invalid'), 'true');

  await page.fill('#reset-password', 'New0password');
  await shot(page, 'account-10-new-password');
  res = await click(page, '#reset-submit', '/members/password/reset');
  assert.equal(res.status(), 200);
  assert.equal((await res.json()).status, 'password_changed');
  const sent = JSON.parse(res.request().postData());
  assert.equal('verificationToken' in sent, false, 'the cookie carried the token');
  assert.equal(sent.phoneNumber, '+821030000005');

  // to the login view, the phone filled in
  await page.locator('#view-login').waitFor();
  m = await message(page, 'login-msg');
  assert.equal(m.kind, 'ok');
  assert.equal(m.en, 'Your password is changed. Please log in with the new one.');
  assert.equal(await page.inputValue('#login-account'), phone);
  await shot(page, 'account-11-reset-done');

  // the token is used up: a second reset with it fails
  res = await context.request.post(API + '/members/password/reset', {
    data: { phoneNumber: phone, password: 'Other0password' },
  });
  assert.equal(res.status(), 403);
  assert.equal((await res.json()).error, 'PHONE_NOT_VERIFIED');

  // the old password fails, the new one works
  res = await login(page, phone, 'Old0password');
  assert.equal(res.status(), 401);
  assert.deepEqual(await message(page, 'login-msg'), LOGIN_FAILED);
  res = await login(page, phone, 'New0password');
  assert.equal(res.status(), 200);
  assert.equal(await page.textContent('#me-email'), 'kang@example.com');

  // the session from before the reset is gone
  assert.equal((await session(before.context))[0], 401);
  assert.equal(await reload(before.page), 401);
  assert.equal(await before.page.isHidden('#account'), true);
  assert.equal(await before.page.isVisible('#tabs'), true);
});

test('cross-origin: login, the account and logout through smsverify_cors', { timeout: 30000 }, async (t) => {
  await apiMember('010-3000-0006', 'seo@example.com', { nickname: 'seo' });
  const { page, context } = await open(t, CROSS);
  assert.equal(await page.evaluate(() => window.smsverify.api), API);

  const res = await login(page, 'seo@example.com', 'Passw0rd!');
  assert.equal(new URL(res.url()).origin, API);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['access-control-allow-origin'], CROSS);
  assert.equal(res.headers()['access-control-allow-credentials'], 'true');
  assert.equal(await page.textContent('#me-nickname'), 'seo', 'GET session carried the cookie');
  assert.equal(await page.getAttribute('#members-only', 'href'), API + '/members-only/');
  await shot(page, 'account-12-cross-origin');

  // the session is there on a new visit of the page on the other origin
  assert.equal(await reload(page), 200);
  await page.locator('#account').waitFor();

  await click(page, '#logout', '/members/logout');
  await page.locator('#view-login').waitFor();
  assert.equal(await sessionCookie(context), undefined);
});

test('every account error word has a Korean and an English sentence', async (t) => {
  const words = new Set([
    'LOGIN_FAILED', 'LOGIN_LOCKED', 'NOT_LOGGED_IN', 'NOT_A_MEMBER',
    'INVALID_PASSWORD', 'PHONE_NOT_VERIFIED',
    'IP_LIMIT', 'SMS_BUDGET', 'STORE_UNAVAILABLE', 'NO_SUCH_MEMBER', 'ID_TAKEN', 'NOT_FOUND',
  ]);
  // and every word section 3 of the contract names, where shared/ is beside
  const spec = env.E2E_API_MD || path.join(here, '../../../shared/spec/API.md');
  if (fs.existsSync(spec)) {
    const text = fs.readFileSync(spec, 'utf8');
    const section = text.slice(text.indexOf('\n## 3.'), text.indexOf('\n## 4.'));
    for (const m of section.matchAll(/`([A-Z][A-Z_]+)`/g)) {
      words.add(m[1]);
    }
  } else {
    t.diagnostic(`${spec} not found: checking the built-in list only`);
  }
  t.diagnostic(`${words.size} error words`);

  const { page } = await open(t, API);
  const sentences = await page.evaluate((ws) => ws.map((w) => [w, w in window.smsverify.errors,
    window.smsverify.describe({ error: w, field: 'password', retryAfter: 120, httpStatus: 400 })]),
  [...words]);
  for (const [word, known, [ko, en]] of sentences) {
    assert.ok(known, `${word} has sentences`);
    assert.match(ko, /[가-힣]/, `${word} in Korean`);
    assert.match(en, /^[\x20-\x7e]+$/, `${word} in English`);
    assert.doesNotMatch(ko + en, /undefined|NaN/, word);
  }
  assert.deepEqual(await page.evaluate(() => window.smsverify.describe(
    { error: 'LOGIN_LOCKED', retryAfter: 120 })), [
    '로그인 실패가 너무 많습니다. 2분 후에 다시 시도해 주세요.',
    'Too many failed logins for this account. Try again in 2 minutes.']);

  // a masked phone shows the last four digits only
  assert.deepEqual(await page.evaluate(() => ['+821012345678', '+82111234567', '+14155550123']
    .map(window.smsverify.maskPhone)), ['010-****-5678', '011-***-4567', '+1415***0123']);
});
