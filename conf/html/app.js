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
    /* section 3: accounts */
    LOGIN_FAILED: [
      '이메일(또는 휴대폰 번호)이나 비밀번호가 올바르지 않습니다.',
      'The email (or mobile number) or the password is not right.'],
    LOGIN_LOCKED: [
      function (d) { return '로그인 실패가 너무 많습니다. ' + waitKo(d.retryAfter) + ' 후에 다시 시도해 주세요.'; },
      function (d) { return 'Too many failed logins for this account. Try again in ' + waitEn(d.retryAfter) + '.'; }],
    NOT_LOGGED_IN: [
      '로그인이 필요합니다. 로그인하지 않았거나 로그인이 만료되었습니다.',
      'Please log in: you are not logged in, or your session has ended.'],
    NOT_A_MEMBER: [
      '이 휴대폰 번호로 가입한 회원이 없습니다.',
      'No account has this mobile number.'],
    /* sections 2, 5 and 6: limits, operations, the PostgreSQL store */
    IP_LIMIT: [
      function (d) { return '이 네트워크에서 인증번호 요청이 너무 많습니다. ' + waitKo(d.retryAfter) + ' 후에 다시 시도해 주세요.'; },
      function (d) { return 'Too many codes were asked from this network. Try again in ' + waitEn(d.retryAfter) + '.'; }],
    SMS_BUDGET: [
      '오늘은 더 이상 문자를 보낼 수 없습니다. 내일 다시 시도해 주세요.',
      'No more text messages can be sent today. Please try again tomorrow.'],
    STORE_UNAVAILABLE: [
      '저장소에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.',
      'The store cannot be reached. Please try again in a moment.'],
    NO_SUCH_MEMBER: [
      '해당 회원이 없습니다.',
      'There is no such member.'],
    ID_TAKEN: [
      '이미 사용 중인 회원번호입니다.',
      'This member number is already in use.'],
    NOT_FOUND: [
      '요청한 주소를 찾을 수 없습니다.',
      'The address asked for does not exist.'],
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

  /*
   * The input to point at for an error: FIELD_OF names a part of a form
   * by the error word, ID_OF by the body's "field"; each form maps the
   * parts it has to its element ids.
   */
  var FIELD_OF = {
    INVALID_PHONE: 'phone', COUNTRY_NOT_ALLOWED: 'phone', PHONE_TAKEN: 'phone',
    NOT_A_MEMBER: 'phone',
    CODE_MISMATCH: 'code', INVALID_EMAIL: 'email', EMAIL_TAKEN: 'email',
    INVALID_PASSWORD: 'password', INVALID_NICKNAME: 'nickname',
    TERMS_REQUIRED: 'terms', UNKNOWN_TERMS: 'terms', LOGIN_FAILED: 'password'
  };
  var ID_OF = {
    phoneNumber: 'phone', verificationNumber: 'code', email: 'email',
    password: 'password', nickname: 'nickname', termsId: 'terms'
  };
  var SIGNUP_INPUTS = {
    phone: 'phone', code: 'code', email: 'email', password: 'password',
    nickname: 'nickname', terms: 'terms'
  };
  var RESET_INPUTS = {
    phone: 'reset-phone', code: 'reset-code', password: 'reset-password'
  };
  var LOGIN_INPUTS = {
    phone: 'login-account', email: 'login-account', password: 'login-password'
  };

  function $(id) { return document.getElementById(id); }

  var state = {
    inflight: 0,        /* requests the user waits for */
    member: null,       /* GET session's answer while logged in */
    sessionEndsAt: 0,
    signedUp: false     /* the welcome of a signup is on screen */
  };

  /*
   * A request to the API; resolves to {ok, status, data}, never rejects.
   * body undefined: no body (GET session, POST logout).  quiet: the user
   * does not wait for it, so the buttons stay as they are.
   */
  function request(method, path, body, quiet) {
    var init = { method: method, credentials: CREDENTIALS };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    if (!quiet) {
      state.inflight++;
      refresh();
    }
    return fetch(API + path, init).then(function (res) {
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
      if (!quiet) {
        state.inflight--;
        refresh();
      }
      return r;
    });
  }
  function post(path, body) { return request('POST', path, body); }

  /* a message box: kind is "error", "info" or "ok" */
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
  function sayError(box, d, inputs) {
    var s = describe(d);
    say(box, 'error', s[0], s[1], d.error);
    var id = (inputs || SIGNUP_INPUTS)[FIELD_OF[d.error] || ID_OF[d.field]];
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

  /* a time span for people: 7일 / 7 days, 3시간 / 3 hours, ... */
  var UNITS = [[86400, '일', 'day'], [3600, '시간', 'hour'], [60, '분', 'minute'],
               [1, '초', 'second']];
  function span(s) {
    for (var i = 0; i < UNITS.length; i++) {
      if (s >= UNITS[i][0] || i === UNITS.length - 1) {
        var n = Math.round(s / UNITS[i][0]);
        return [n + UNITS[i][1], n + ' ' + UNITS[i][2] + (n === 1 ? '' : 's')];
      }
    }
  }

  /* +821012345678 -> 010-****-5678; other countries: +1415***0123 */
  function maskPhone(e164) {
    var p = String(e164 || '');
    var m = p.match(/^\+82(1\d)(\d{3,4})(\d{4})$/);
    if (m) {
      return '0' + m[1] + '-' + m[2].replace(/\d/g, '*') + '-' + m[3];
    }
    if (p.length > 8) {
      return p.slice(0, 5) + p.slice(5, -4).replace(/\d/g, '*') + p.slice(-4);
    }
    return p;
  }

  /*
   * A phone step: a number, a code sent to it (send or reset_send), the
   * code confirmed (confirm, whose HttpOnly cookie smsverify_token then
   * proves the phone to signup or reset).  ids: the step's elements.
   */
  function phoneStep(ids, sendPath, inputs, onVerified) {
    var st = {
      phone: '',        /* E.164, as the send answered */
      sentTo: '',       /* what was typed when the code was sent */
      expiresAt: 0,
      resendAt: 0,
      verified: false
    };

    st.refresh = function () {
      var codeSent = st.sentTo !== '';
      var sameNumber = $(ids.phone).value === st.sentTo;
      var wait = secondsTo(st.resendAt);
      var busy = state.inflight > 0;

      $(ids.send).disabled = busy || st.verified || (codeSent && sameNumber);
      $(ids.confirm).disabled = busy || st.verified || !codeSent;
      $(ids.resend).disabled = busy || st.verified || wait > 0;
      $(ids.resendWait).textContent = wait > 0 ? '(' + wait + ')' : '';
      $(ids.phone).readOnly = st.verified;

      var timer = $(ids.timer);
      if (st.expiresAt) {
        var left = secondsTo(st.expiresAt);
        timer.textContent = mmss(left);
        timer.classList.toggle('expired', left === 0);
      } else {
        timer.textContent = '';
      }
    };

    st.send = function () {
      var typed = $(ids.phone).value;
      clear(ids.msg);
      return post(sendPath, { phoneNumber: typed }).then(function (r) {
        var d = r.data;
        if (!r.ok) {
          if (d.retryAfter) {
            st.resendAt = Date.now() + d.retryAfter * 1000;
          }
          sayError(ids.msg, d, inputs);
          return;
        }
        st.phone = d.phoneNumber;
        st.sentTo = typed;
        st.expiresAt = Date.now() + d.expiresIn * 1000;
        st.resendAt = Date.now() + d.resendAfter * 1000;
        $(ids.codeForm).hidden = false;
        $(ids.code).value = '';
        $(ids.code).focus();
        say(ids.msg, 'info',
            d.phoneNumber + '(으)로 인증번호를 보냈습니다.',
            'A code was sent to ' + d.phoneNumber + '.');
        refresh();
      });
    };

    st.confirm = function () {
      clear(ids.msg);
      return post('/sms/verification/confirm', {
        phoneNumber: st.phone,
        verificationNumber: $(ids.code).value.trim()
      }).then(function (r) {
        var d = r.data;
        if (!r.ok) {
          if (d.error === 'CODE_EXPIRED' || d.error === 'NO_PENDING_CODE'
              || d.error === 'TOO_MANY_ATTEMPTS') {
            st.expiresAt = 0;
          }
          sayError(ids.msg, d, inputs);
          refresh();
          return;
        }
        /* d.verificationToken is left alone: the cookie carries it */
        st.verified = true;
        st.expiresAt = 0;
        $(ids.codeForm).hidden = true;
        say(ids.msg, 'ok', '휴대폰 인증이 완료되었습니다. (' + d.phoneNumber + ')',
            'Your phone is verified (' + d.phoneNumber + ').');
        refresh();
        onVerified();
      });
    };

    /* the verification is gone (used, expired): start again */
    st.unverify = function () {
      st.verified = false;
      st.sentTo = '';
      refresh();
    };

    /* back to an empty number */
    st.reset = function () {
      st.phone = '';
      st.sentTo = '';
      st.expiresAt = 0;
      st.resendAt = 0;
      st.verified = false;
      $(ids.phone).value = '';
      $(ids.code).value = '';
      $(ids.codeForm).hidden = true;
      clear(ids.msg);
    };

    on(ids.phoneForm, 'submit', st.send);
    on(ids.resend, 'click', st.send);
    on(ids.codeForm, 'submit', st.confirm);

    /* another number after a send: that code is no longer the one asked */
    $(ids.phone).addEventListener('input', function () {
      if (st.sentTo && $(ids.phone).value !== st.sentTo) {
        st.sentTo = '';
        st.expiresAt = 0;
        $(ids.codeForm).hidden = true;
        clear(ids.msg);
      }
      refresh();
    });

    return st;
  }

  function on(id, ev, fn) {
    $(id).addEventListener(ev, function (e) {
      e.preventDefault();
      if (!state.inflight) {
        fn();
      }
    });
  }

  var signupPhone = phoneStep({
    phoneForm: 'phone-form', phone: 'phone', send: 'send',
    codeForm: 'code-form', code: 'code', timer: 'timer', confirm: 'confirm',
    resend: 'resend', resendWait: 'resend-wait', msg: 'phone-msg'
  }, '/sms/verification', SIGNUP_INPUTS, function () {
    $('step-member').hidden = false;
    $('email').focus();
  });

  var resetPhone = phoneStep({
    phoneForm: 'reset-phone-form', phone: 'reset-phone', send: 'reset-send',
    codeForm: 'reset-code-form', code: 'reset-code', timer: 'reset-timer',
    confirm: 'reset-confirm', resend: 'reset-resend',
    resendWait: 'reset-resend-wait', msg: 'reset-msg'
  }, '/members/password/reset/sms', RESET_INPUTS, function () {
    $('reset-step-password').hidden = false;
    $('reset-password').focus();
  });

  /* buttons, timers and waits from the state; run every 250ms too */
  function refresh() {
    var busy = state.inflight > 0;
    signupPhone.refresh();
    resetPhone.refresh();
    ['signup', 'login', 'logout', 'reset-submit'].forEach(function (id) {
      $(id).disabled = busy;
    });
    document.querySelector('main').setAttribute('aria-busy', String(busy));

    if (state.member) {
      var left = secondsTo(state.sessionEndsAt);
      var at = new Date(state.sessionEndsAt);
      var s = span(left);
      var el = $('me-expires');
      el.querySelector('.ko').textContent = at.toLocaleString('ko-KR',
        { dateStyle: 'medium', timeStyle: 'short' }) + ' (' + s[0] + ' 후)';
      el.querySelector('.en').textContent = at.toLocaleString('en-US',
        { dateStyle: 'medium', timeStyle: 'short' }) + ' (in ' + s[1] + ')';
    }
  }

  /* ---- which view: the account, or signup / login / reset by #hash ---- */

  var VIEWS = ['signup', 'login', 'reset'];

  function currentView() {
    var v = location.hash.slice(1);
    return VIEWS.indexOf(v) >= 0 ? v : 'signup';
  }

  function render() {
    var member = state.member;
    var view = currentView();
    $('account').hidden = !member;
    $('tabs').hidden = !!member;
    $('view-signup').hidden = member ? !state.signedUp : view !== 'signup';
    $('view-login').hidden = !!member || view !== 'login';
    $('view-reset').hidden = !!member || view !== 'reset';
    ['signup', 'login'].forEach(function (v) {
      var tab = $('tab-' + v);
      if (v === view || (v === 'login' && view === 'reset')) {
        tab.setAttribute('aria-current', 'page');
      } else {
        tab.removeAttribute('aria-current');
      }
    });
    $('done-login').hidden = !!member;
    refresh();
  }

  function go(view) {
    if (location.hash !== '#' + view) {
      location.hash = view;       /* hashchange renders */
    }
    render();
  }

  window.addEventListener('hashchange', render);

  /* the member of the session, into the account view */
  function showMember(d) {
    state.member = d;
    state.sessionEndsAt = Date.now() + d.expiresIn * 1000;
    $('me-nickname').textContent = d.nickname;
    $('me-email').textContent = d.email;
    $('me-phone').textContent = maskPhone(d.phoneNumber);
    $('me-id').textContent = d.memberId;
    clear('account-msg');
    render();
  }

  function forgetMember() {
    state.member = null;
    state.sessionEndsAt = 0;
    render();
  }

  /*
   * GET session: resolves to true when logged in.  The session cookie is
   * HttpOnly: only the answer tells whether there is one.
   */
  function loadSession(quiet) {
    return request('GET', '/members/session', undefined, quiet).then(function (r) {
      if (r.ok) {
        showMember(r.data);
        return true;
      }
      forgetMember();
      return false;
    });
  }

  /* ---- signup ---- */

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
      phoneNumber: signupPhone.phone,
      termsId: terms
    }).then(function (r) {
      var d = r.data;
      if (!r.ok) {
        if (d.error === 'PHONE_NOT_VERIFIED') {
          /* the token expired or was used: verify the phone again */
          signupPhone.unverify();
          $('step-member').hidden = true;
          sayError('phone-msg', d);
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
      $('password').value = '';
      state.signedUp = true;
      /* smsverify_signup_login on (the default) started a session */
      return loadSession(false);
    });
  }

  /* the signup form as a fresh page has it */
  function resetSignup() {
    signupPhone.reset();
    ['email', 'password', 'nickname'].forEach(function (id) { $(id).value = ''; });
    document.querySelectorAll('#terms input').forEach(function (c) { c.checked = false; });
    clear('member-msg');
    $('step-phone').hidden = false;
    $('step-member').hidden = true;
    $('step-done').hidden = true;
    state.signedUp = false;
  }

  /* ---- login, logout ---- */

  function login() {
    clear('login-msg');
    var account = $('login-account').value.trim();
    var body = account.indexOf('@') >= 0
      ? { email: account, password: $('login-password').value }
      : { phoneNumber: account, password: $('login-password').value };
    return post('/members/login', body).then(function (r) {
      if (!r.ok) {
        sayError('login-msg', r.data, LOGIN_INPUTS);
        return;
      }
      $('login-password').value = '';
      return loadSession(false).then(function (loggedIn) {
        if (!loggedIn) {
          /* logged in, yet the cookie did not come back (blocked?) */
          sayError('login-msg', { error: 'NOT_LOGGED_IN' });
        }
      });
    });
  }

  function logout() {
    clear('account-msg');
    return request('POST', '/members/logout').then(function (r) {
      if (!r.ok) {
        sayError('account-msg', r.data);
        return;
      }
      resetSignup();
      forgetMember();
      go('login');
      say('login-msg', 'ok', '로그아웃했습니다.', 'You are logged out.');
    });
  }

  /* ---- password reset: reset_send, confirm, reset ---- */

  function resetPassword() {
    clear('reset-password-msg');
    var typed = resetPhone.sentTo;
    return post('/members/password/reset', {
      phoneNumber: resetPhone.phone,
      password: $('reset-password').value
    }).then(function (r) {
      var d = r.data;
      if (!r.ok) {
        if (d.error === 'PHONE_NOT_VERIFIED') {
          resetPhone.unverify();
          $('reset-step-password').hidden = true;
          sayError('reset-msg', d, RESET_INPUTS);
          return;
        }
        sayError('reset-password-msg', d, RESET_INPUTS);
        return;
      }
      resetPhone.reset();
      $('reset-password').value = '';
      $('reset-step-password').hidden = true;
      clear('login-msg');
      $('login-account').value = typed;
      $('login-password').value = '';
      go('login');
      say('login-msg', 'ok',
          '비밀번호를 변경했습니다. 새 비밀번호로 로그인해 주세요.',
          'Your password is changed. Please log in with the new one.');
      $('login-password').focus();
    });
  }

  on('member-form', 'submit', signup);
  on('login-form', 'submit', login);
  on('logout', 'click', logout);
  on('reset-password-form', 'submit', resetPassword);

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

  /* the members-only page lives with the API */
  $('members-only').href = API + '/members-only/';

  /*
   * On load: a session shows the account.  ?login=required is where the
   * members-only location sends a request without one (error_page 401).
   */
  var loginRequired = /(^|[?&])login=required(&|$)/.test(location.search);
  if (loginRequired) {
    history.replaceState(null, '', location.pathname + '#login');
  }
  render();
  loadSession(true).then(function (loggedIn) {
    if (!loggedIn && loginRequired) {
      sayError('login-msg', { error: 'NOT_LOGGED_IN' });
    }
  });

  setInterval(refresh, 250);

  /* for tests and for people writing their own page */
  window.smsverify = {
    api: API, errors: ERRORS, describe: describe, maskPhone: maskPhone
  };
}());
