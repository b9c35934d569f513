
/*
 * What a request brings: its method, media type and Origin, the body as
 * a cJSON tree, its string members and the phone number; and the header
 * filter that gives nginx's own answers the CORS headers.  Above the
 * response: it calls only that and the sv_ code.  The checks return an
 * error word (NGX_HTTP_SMSVERIFY_OK: passes) and record the field at
 * fault in the ctx, for ngx_http_smsverify_reject().
 */

#ifndef _NGX_HTTP_SMSVERIFY_REQUEST_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_REQUEST_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_smsverify.h"


/* 1 for the endpoints that answer GET and HEAD (status, session) */
ngx_uint_t ngx_http_smsverify_is_get(ngx_http_smsverify_loc_conf_t *lcf);

/* the cookie's value, or an empty string */
void ngx_http_smsverify_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

ngx_http_smsverify_err_e ngx_http_smsverify_check_method(
    ngx_http_request_t *r, ngx_http_smsverify_loc_conf_t *lcf);
ngx_http_smsverify_err_e ngx_http_smsverify_check_media_type(
    ngx_http_request_t *r);

/* the request's Origin if the location allows it, or NULL */
ngx_str_t *ngx_http_smsverify_allowed_origin(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf);

/* the body as a JSON object; the body's bytes are wiped */
ngx_http_smsverify_err_e ngx_http_smsverify_parse_body(
    ngx_http_request_t *r, cJSON **root);
/* wipes the tree's strings and frees it */
void ngx_http_smsverify_drop_body(cJSON *root);

/* a string member; records no field (the caller knows what it asked) */
ngx_http_smsverify_err_e ngx_http_smsverify_json_string(cJSON *root,
    const char *name, ngx_str_t *value);
/* "phoneNumber" as E.164 (SV_PHONE_SIZE bytes), of an allowed country */
ngx_http_smsverify_err_e ngx_http_smsverify_read_phone(
    ngx_http_request_t *r, cJSON *root, char *e164);

/*
 * The verification token of the body (its string, null if absent) or,
 * where the body has none and smsverify_token_cookie is on, of the
 * smsverify_token cookie: its
 * keyed hash (SV_HASH_SIZE bytes), or PHONE_NOT_VERIFIED.
 */
ngx_http_smsverify_err_e ngx_http_smsverify_read_token(ngx_http_request_t *r,
    ngx_str_t *body_token, uint8_t *hash);

/* record what the answer to err names, and return err */
ngx_http_smsverify_err_e ngx_http_smsverify_field_err(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *field);
ngx_http_smsverify_err_e ngx_http_smsverify_detail_err(
    ngx_http_request_t *r, ngx_http_smsverify_err_e err, u_char *detail,
    size_t len);

/* postconfiguration: puts the CORS header filter in nginx's chain */
void ngx_http_smsverify_header_filter_init(void);


#endif /* _NGX_HTTP_SMSVERIFY_REQUEST_H_INCLUDED_ */
