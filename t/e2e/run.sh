#!/usr/bin/env bash
# End-to-end tests of the page in conf/html (signup, login, the account
# view, logout, password reset) and of the members-only location in front
# of conf/members, in headless Chromium.
#
# Starts its own nginx in a temporary prefix with the log provider (the
# development setup of conf/nginx.conf), runs t/e2e/*.test.mjs with node's
# test runner, stops nginx.  Screenshots go to t/e2e/artifacts/.
#
#   SMSVERIFY_MODULE  the module        (default: build/ngx_http_smsverify_module.so)
#   NGINX_BIN         nginx             (default: /usr/sbin/nginx)
#   CHROMIUM          the browser       (default: /usr/bin/chromium)
#   E2E_PORT          first of 5 ports  (default: 18480)
#   E2E_KEEP=1        keep the prefix (logs, store) after the run
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

module=$(realpath -m "${SMSVERIFY_MODULE:-$repo/build/ngx_http_smsverify_module.so}")
nginx=${NGINX_BIN:-/usr/sbin/nginx}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
port=${E2E_PORT:-18480}

api=$port               # the API and the page, same origin
cross=$((port + 1))     # the page only, an origin in smsverify_cors
stranger=$((port + 2))  # the page only, an origin not in smsverify_cors
short=$((port + 3))     # the API and the page, codes live 2s
app=$((port + 4))       # the application behind the API's /members-only/

for f in "$module" "$nginx" "$CHROMIUM"; do
    [ -e "$f" ] || { echo "e2e: $f is missing (make build; apt-get install chromium)" >&2; exit 1; }
done

# npm ci when node_modules is missing or older than the lockfile
if [ ! -d "$here/node_modules/playwright-core" ] \
   || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund)
fi

prefix=$(mktemp -d /tmp/smsverify-e2e.XXXXXX)
chmod 755 "$prefix"                 # workers may run as nobody
mkdir -p "$prefix/logs"
cp -r "$repo/conf/html" "$prefix/html"
cp -r "$repo/conf/members" "$prefix/members"

cat >"$prefix/nginx.conf" <<EOF
load_module $module;

worker_processes  2;
error_log         $prefix/logs/error.log notice;
pid               $prefix/nginx.pid;

thread_pool smsverify threads=4 max_queue=65536;

events {
    worker_connections  256;
}

http {
    access_log             $prefix/logs/access.log;
    client_body_temp_path  $prefix/body;

    types {
        text/html               html;
        text/css                css;
        application/javascript  js;
        image/png               png;
    }

    smsverify_store        $prefix/smsverify size=16m sync=1s;
    smsverify_thread_pool  smsverify;

    smsverify_provider     log;
    smsverify_message      "[smsverify] 인증번호 [\$smsverify_code]를 입력해주세요.";

    smsverify_terms 1 required;
    smsverify_terms 2 required;
    smsverify_terms 3 optional;

    smsverify_cors         http://127.0.0.1:$cross;

    server {
        listen       127.0.0.1:$api;
        client_max_body_size  16k;

        smsverify_login_limit  3 1m;

        location = /sms/verification         { smsverify send; }
        location = /sms/verification/confirm { smsverify confirm; }
        location = /members/signup           { smsverify signup; }

        location = /members/login              { smsverify login; }
        location = /members/logout             { smsverify logout; }
        location = /members/session            { smsverify session; }
        # the reset test asks for a code moments after its member's signup
        location = /members/password/reset/sms {
            smsverify reset_send;
            smsverify_resend_interval 1s;
        }
        location = /members/password/reset     { smsverify reset; }

        # as conf/nginx.conf has it
        location /members-only/ {
            smsverify_auth  member;
            error_page      401 = @login;
            proxy_set_header  X-Member-Id        \$smsverify_member_id;
            proxy_set_header  X-Member-Email     \$smsverify_member_email;
            proxy_set_header  X-Member-Phone     \$smsverify_member_phone;
            proxy_set_header  X-Member-Nickname  \$smsverify_member_nickname;
            proxy_pass        http://127.0.0.1:$app/;
        }
        location @login { return 302 /?login=required; }

        location / { root $prefix/html; }
    }

    # the application: greets the member from nginx's X-Member-* headers
    server {
        listen       127.0.0.1:$app;
        location / {
            root     $prefix/members;
            ssi      on;
            charset  utf-8;
        }
    }

    server {
        listen       127.0.0.1:$short;
        client_max_body_size  16k;

        smsverify_code_ttl         2s;
        smsverify_resend_interval  2s;

        location = /sms/verification         { smsverify send; }
        location = /sms/verification/confirm { smsverify confirm; }
        location = /members/signup           { smsverify signup; }
        location / { root $prefix/html; }
    }

    # the page alone, calling the API on another origin
    server {
        listen       127.0.0.1:$cross;
        listen       127.0.0.1:$stranger;
        location / {
            root $prefix/html;
            sub_filter 'data-api=""' 'data-api="http://127.0.0.1:$api"';
        }
    }
}
EOF

"$nginx" -p "$prefix/" -c "$prefix/nginx.conf" -t -q
"$nginx" -p "$prefix/" -c "$prefix/nginx.conf"

stop() {
    "$nginx" -p "$prefix/" -c "$prefix/nginx.conf" -s quit 2>/dev/null || true
    for _ in $(seq 50); do [ -e "$prefix/nginx.pid" ] || break; sleep 0.1; done
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "e2e: prefix kept in $prefix"
    else
        rm -rf "$prefix"
    fi
}
trap stop EXIT

mkdir -p "$here/artifacts"

E2E_API="http://127.0.0.1:$api" \
E2E_CROSS="http://127.0.0.1:$cross" \
E2E_STRANGER="http://127.0.0.1:$stranger" \
E2E_SHORT="http://127.0.0.1:$short" \
E2E_ERROR_LOG="$prefix/logs/error.log" \
E2E_ARTIFACTS="$here/artifacts" \
    node --test --test-concurrency=1 "$here"/*.test.mjs
