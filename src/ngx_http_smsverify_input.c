
/*
 * Inputs every endpoint shares: the phone number, store results.
 */

#include "ngx_http_smsverify.h"


ngx_int_t
ngx_http_smsverify_read_phone(ngx_http_request_t *r, cJSON *root,
    char *e164)
{
    ngx_int_t                       rc;
    ngx_str_t                       value;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    rc = ngx_http_smsverify_json_string(r, root, "phoneNumber", &value);

    if (rc != NGX_OK) {
        return ngx_http_smsverify_field_error(r, rc, "phoneNumber");
    }

    if (sv_phone_normalize((char *) value.data, value.len, e164) != 0) {
        return ngx_http_smsverify_error(r, SV_ERR_INVALID_PHONE, NULL, 0);
    }

    if (!sv_phone_country_allowed(e164, lcf->countries->elts,
                                  lcf->countries->nelts))
    {
        return ngx_http_smsverify_error(r, SV_ERR_COUNTRY_NOT_ALLOWED,
                                        NULL, 0);
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_smsverify_store_error(ngx_http_request_t *r, sv_store_rc_t rc,
    const char *err)
{
    switch (rc) {

    case SV_STORE_PHONE_TAKEN:
        return ngx_http_smsverify_error(r, SV_ERR_PHONE_TAKEN, NULL, 0);

    case SV_STORE_EMAIL_TAKEN:
        return ngx_http_smsverify_error(r, SV_ERR_EMAIL_TAKEN, NULL, 0);

    case SV_STORE_NO_CODE:
        return ngx_http_smsverify_error(r, SV_ERR_NO_PENDING_CODE, NULL, 0);

    case SV_STORE_EXPIRED:
        return ngx_http_smsverify_error(r, SV_ERR_CODE_EXPIRED, NULL, 0);

    case SV_STORE_NO_TOKEN:
        return ngx_http_smsverify_error(r, SV_ERR_PHONE_NOT_VERIFIED, NULL, 0);

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify store failed: %s", err);
        return ngx_http_smsverify_error(r, SV_ERR_INTERNAL, NULL, 0);
    }
}


void
ngx_http_smsverify_mask(const char *e164, ngx_str_t *out, u_char *buf)
{
    sv_phone_mask(e164, (char *) buf, SV_PHONE_MASKED_SIZE);

    out->data = buf;
    out->len = ngx_strlen(buf);
}
