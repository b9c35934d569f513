/*
 * The signup page: send a code, confirm it, sign up (see API.md).
 *
 * The verification token never passes through this script: confirm sets
 * it as the HttpOnly cookie smsverify_token, and signup is sent without
 * verificationToken so that the browser sends the cookie instead.
 */
'use strict';

(function () {

  /* the API's base URL: <html data-api="...">, "" for this page's origin */
  var API = (document.documentElement.dataset.api || '').replace(/\/+$/, '');
  var apiOrigin = new URL(API || '/', location.href).origin;
  var CREDENTIALS = apiOrigin === location.origin ? 'same-origin' : 'include';

  /* every error word of API.md, as sentences for people; d: the error body */
  var FIELDS = {
    phoneNumber: ['휴대폰 번호', 'mobile number'],
    verificationNumber: ['인증번호', 'code'],
    email: ['이메일', 'email'],
    password: ['비밀번호', 'password'],
    nickname: ['닉네임', 'nickname'],
    termsId: ['약관 동의', 'terms']
  };
  function field(d, i) {
    return (FIELDS[d.field] || [d.field, d.field])[i] || '';
  }
  function waitKo(s) { return s < 60 ? s + '초' : Math.ceil(s / 60) + '분'; }
  function waitEn(s) {
    return s < 60 ? s + ' seconds' : Math.ceil(s / 60) + ' minutes';
  }
  function list(a) { return (a || []).join(', '); }

  var ERRORS = {
    METHOD_NOT_ALLOWED: [
      '이 주소는 요청을 받을 수 없습니다. 페이지의 API 주소를 확인해 주세요.',
      'This address does not take the request. Check the page\'s API address.'],
    UNSUPPORTED_MEDIA_TYPE: [
      '서버가 요청 형식을 받아들이지 않았습니다.',
      'The server did not accept the request format.'],
    INVALID_JSON: [
      '요청을 읽을 수 없습니다. 입력한 내용을 확인해 주세요.',
      'The request could not be read. Please check what you entered.'],
    MISSING_FIELD: [
      function (d) { return field(d, 0) + ' 항목을 입력해 주세요.'; },
      function (d) { return 'Please fill in the ' + field(d, 1) + '.'; }],
    INVALID_FIELD: [
      function (d) { return field(d, 0) + ' 항목의 형식이 올바르지 않습니다.'; },
      function (d) { return 'The ' + field(d, 1) + ' is not in the right form.'; }],
    BUSY: [
      '요청이 많아 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.',
      'The server is busy. Please try again in a moment.'],
    INTERNAL: [
      '서버에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.',
      'Something went wrong on the server. Please try again later.'],
    INVALID_PHONE: [
      '휴대폰 번호가 올바르지 않습니다. 예: 010-1234-5678',
      'That is not a valid mobile number. Example: 010-1234-5678'],
    COUNTRY_NOT_ALLOWED: [
      '이 국가의 번호로는 인증번호를 보낼 수 없습니다.',
      'We cannot send codes to numbers in this country.'],
    PHONE_TAKEN: [
      '이미 가입된 휴대폰 번호입니다.',
      'This mobile number is already registered.'],
    RESEND_TOO_SOON: [
      function (d) { return '인증번호를 방금 보냈습니다. ' + waitKo(d.retryAfter) + ' 후에 다시 받을 수 있습니다.'; },
      function (d) { return 'A code was just sent. You can ask again in ' + waitEn(d.retryAfter) + '.'; }],
    SEND_LIMIT: [
      function (d) { return '인증번호 요청 횟수를 초과했습니다. ' + waitKo(d.retryAfter) + ' 후에 다시 시도해 주세요.'; },
      function (d) { return 'Too many codes were asked for this number. Try again in ' + waitEn(d.retryAfter) + '.'; }],
    PROVIDER_FAILED: [
      '문자를 보내지 못했습니다. 잠시 후 다시 시도해 주세요.',
      'The text message could not be sent. Please try again later.'],
    CODE_MISMATCH: [
      function (d) { return '인증번호가 일치하지 않습니다. 남은 횟수: ' + d.attemptsLeft + '회'; },
      function (d) { return 'The code does not match. Attempts left: ' + d.attemptsLeft + '.'; }],
    NO_PENDING_CODE: [
      '확인할 인증번호가 없습니다. 인증번호를 다시 받아 주세요.',
      'There is no code to check. Please ask for a new one.'],
    CODE_EXPIRED: [
      '인증번호가 만료되었습니다. 인증번호를 다시 받아 주세요.',
      'The code has expired. Please ask for a new one.'],
    TOO_MANY_ATTEMPTS: [
      '인증번호를 여러 번 잘못 입력했습니다. 인증번호를 다시 받아 주세요.',
      'Too many wrong codes. Please ask for a new one.'],
    INVALID_EMAIL: [
      '이메일 주소가 올바르지 않습니다.',
      'That is not a valid email address.'],
    INVALID_PASSWORD: [
      '비밀번호는 영문과 숫자를 모두 포함한 8~64자여야 합니다.',
      'The password must be 8 to 64 characters with a letter and a digit.'],
    INVALID_NICKNAME: [
      '닉네임은 1~20자로 입력해 주세요.',
      'The nickname must be 1 to 20 characters.'],
    TERMS_REQUIRED: [
      function (d) { return '필수 약관에 동의해 주세요. (' + list(d.missing) + '번)'; },
      function (d) { return 'Please agree to the required terms (no. ' + list(d.missing) + ').'; }],
    UNKNOWN_TERMS: [
      function (d) { return '알 수 없는 약관입니다. (' + list(d.unknown) + '번) 페이지를 새로 고쳐 주세요.'; },
      function (d) { return 'Unknown terms (no. ' + list(d.unknown) + '). Please reload the page.'; }],
    PHONE_NOT_VERIFIED: [
      '휴대폰 인증이 확인되지 않았거나 만료되었습니다. 다시 인증해 주세요.',
      'Your phone is not verified, or its verification has expired. Please verify it again.'],
    EMAIL_TAKEN: [
      '이미 가입된 이메일 주소입니다.',
      'This email address is already registered.'],
    /* not words of the module: nginx's 413, no answer, anything else */
    TOO_LARGE: [
      '입력한 내용이 너무 깁니다.',
      'What you entered is too long.'],
    NETWORK: [
      '서버에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.',
      'The server cannot be reached. Please try again later.'],
    UNKNOWN: [
      function (d) { return '알 수 없는 오류가 발생했습니다. (HTTP ' + d.httpStatus + ')'; },
      function (d) { return 'Something unexpected happened (HTTP ' + d.httpStatus + ').'; }]
  };

  /* [ko, en] for an error body */
  function describe(d) {
    var e = ERRORS[d.error] || ERRORS.UNKNOWN;
    return e.map(function (s) { return typeof s === 'function' ? s(d) : s; });
  }

  /* the field to point at for an error */
  var FIELD_OF = {
    INVALID_PHONE: 'phone', COUNTRY_NOT_ALLOWED: 'phone', PHONE_TAKEN: 'phone',
    CODE_MISMATCH: 'code', INVALID_EMAIL: 'email', EMAIL_TAKEN: 'email',
    INVALID_PASSWORD: 'password', INVALID_NICKNAME: 'nickname',
    TERMS_REQUIRED: 'terms', UNKNOWN_TERMS: 'terms'
  };
  var ID_OF = {
    phoneNumber: 'phone', verificationNumber: 'code', email: 'email',
    password: 'password', nickname: 'nickname', termsId: 'terms'
  };

  function $(id) { return document.getElementById(id); }

  var state = {
    inflight: false,
    phone: '',          /* E.164, as send answered */
    sentTo: '',         /* what was typed when the code was sent */
    expiresAt: 0,
    resendAt: 0,
    verified: false
  };

  /* POST a JSON body; resolves to {ok, status, data}, never rejects */
  function post(path, body) {
    state.inflight = true;
    refresh();
    return fetch(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: CREDENTIALS,
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = {};
        try { data = JSON.parse(text) || {}; } catch (e) { /* not JSON */ }
        if (!res.ok && !data.error) {
          data.error = res.status === 413 ? 'TOO_LARGE' : 'UNKNOWN';
        }
        data.httpStatus = res.status;
        return { ok: res.ok, status: res.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: { error: 'NETWORK', httpStatus: 0 } };
    }).then(function (r) {
      state.inflight = false;
      refresh();
      return r;
    });
  }

  /* a message under a step: kind is "error", "info" or "ok" */
  function say(box, kind, ko, en, word) {
    var el = $(box);
    el.className = 'msg ' + kind;
    el.dataset.error = word || '';
    el.innerHTML = '';
    [[ko, 'ko'], [en, 'en']].forEach(function (p) {
      var line = document.createElement('p');
      line.className = p[1];
      line.lang = p[1];
      line.textContent = p[0];
      el.appendChild(line);
    });
  }
  function sayError(box, d) {
    var s = describe(d);
    say(box, 'error', s[0], s[1], d.error);
    var id = FIELD_OF[d.error] || ID_OF[d.field];
    if (id) {
      $(id).setAttribute('aria-invalid', 'true');
      $(id).focus();
    }
  }
  function clear(box) {
    var el = $(box);
    el.className = 'msg';
    el.dataset.error = '';
    el.innerHTML = '';
    document.querySelectorAll('[aria-invalid]').forEach(function (e) {
      e.removeAttribute('aria-invalid');
    });
  }

  function secondsTo(t) { return Math.max(0, Math.ceil((t - Date.now()) / 1000)); }
  function mmss(s) { return Math.floor(s / 60) + ':' + ('0' + s % 60).slice(-2); }

  /* buttons, timer and resend wait from the state; run every 250ms too */
  function refresh() {
    var codeSent = state.sentTo !== '';
    var sameNumber = $('phone').value === state.sentTo;
    var wait = secondsTo(state.resendAt);

    $('send').disabled = state.inflight || state.verified || (codeSent && sameNumber);
    $('confirm').disabled = state.inflight || state.verified || !codeSent;
    $('resend').disabled = state.inflight || state.verified || wait > 0;
    $('resend-wait').textContent = wait > 0 ? '(' + wait + ')' : '';
    $('signup').disabled = state.inflight;
    document.querySelector('main').setAttribute('aria-busy', String(state.inflight));
    $('phone').readOnly = state.verified;

    var timer = $('timer');
    if (state.expiresAt) {
      var left = secondsTo(state.expiresAt);
      timer.textContent = mmss(left);
      timer.classList.toggle('expired', left === 0);
    } else {
      timer.textContent = '';
    }
  }

  function send() {
    var typed = $('phone').value;
    clear('phone-msg');
    return post('/sms/verification', { phoneNumber: typed }).then(function (r) {
      var d = r.data;
      if (!r.ok) {
        if (d.retryAfter) {
          state.resendAt = Date.now() + d.retryAfter * 1000;
        }
        sayError('phone-msg', d);
        return;
      }
      state.phone = d.phoneNumber;
      state.sentTo = typed;
      state.expiresAt = Date.now() + d.expiresIn * 1000;
      state.resendAt = Date.now() + d.resendAfter * 1000;
      $('code-form').hidden = false;
      $('code').value = '';
      $('code').focus();
      say('phone-msg', 'info',
          d.phoneNumber + '(으)로 인증번호를 보냈습니다.',
          'A code was sent to ' + d.phoneNumber + '.');
      refresh();
    });
  }

  function confirm() {
    clear('phone-msg');
    return post('/sms/verification/confirm', {
      phoneNumber: state.phone,
      verificationNumber: $('code').value.trim()
    }).then(function (r) {
      var d = r.data;
      if (!r.ok) {
        if (d.error === 'CODE_EXPIRED' || d.error === 'NO_PENDING_CODE'
            || d.error === 'TOO_MANY_ATTEMPTS') {
          state.expiresAt = 0;
        }
        sayError('phone-msg', d);
        refresh();
        return;
      }
      /* d.verificationToken is left alone: the cookie carries it */
      state.verified = true;
      state.expiresAt = 0;
      $('code-form').hidden = true;
      $('step-member').hidden = false;
      say('phone-msg', 'ok', '휴대폰 인증이 완료되었습니다. (' + d.phoneNumber + ')',
          'Your phone is verified (' + d.phoneNumber + ').');
      refresh();
      $('email').focus();
    });
  }

  function signup() {
    clear('member-msg');
    var terms = [];
    document.querySelectorAll('input[name=terms]:checked').forEach(function (c) {
      terms.push(Number(c.value));
    });
    var nickname = $('nickname').value;
    return post('/members/signup', {
      email: $('email').value.trim(),
      password: $('password').value,
      nickname: nickname,
      phoneNumber: state.phone,
      termsId: terms
    }).then(function (r) {
      var d = r.data;
      if (!r.ok) {
        if (d.error === 'PHONE_NOT_VERIFIED') {
          /* the token expired or was used: verify the phone again */
          state.verified = false;
          state.sentTo = '';
          $('step-member').hidden = true;
          sayError('phone-msg', d);
          refresh();
          return;
        }
        sayError('member-msg', d);
        return;
      }
      $('step-phone').hidden = true;
      $('step-member').hidden = true;
      $('step-done').hidden = false;
      $('done-nickname').textContent = nickname;
      $('done-id').textContent = d.memberId;
    });
  }

  function on(id, ev, fn) {
    $(id).addEventListener(ev, function (e) {
      e.preventDefault();
      if (!state.inflight) {
        fn();
      }
    });
  }

  on('phone-form', 'submit', send);
  on('resend', 'click', send);
  on('code-form', 'submit', confirm);
  on('member-form', 'submit', signup);

  /* another number after a send: that code is no longer the one asked */
  $('phone').addEventListener('input', function () {
    if (state.sentTo && $('phone').value !== state.sentTo) {
      state.sentTo = '';
      state.expiresAt = 0;
      $('code-form').hidden = true;
      clear('phone-msg');
    }
    refresh();
  });

  var terms = document.querySelectorAll('input[name=terms]');
  $('terms-all').addEventListener('change', function () {
    var all = this.checked;
    terms.forEach(function (c) { c.checked = all; });
  });
  terms.forEach(function (c) {
    c.addEventListener('change', function () {
      $('terms-all').checked = Array.prototype.every.call(terms, function (t) {
        return t.checked;
      });
    });
  });

  setInterval(refresh, 250);
  refresh();

  /* for tests and for people writing their own page */
  window.smsverify = { api: API, errors: ERRORS, describe: describe };
}());
