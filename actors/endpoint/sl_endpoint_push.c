/*  sl_endpoint_push.c: which attempt an out-of-band progress push without a
    correlation_id belongs to. Runs on the endpoint actor's thread; reads
    the attempts, changes nothing.

    The fleet's dynamic and performance services push progress_update with
    correlation_id "" (README, "Pointing an existing fleet at sluice"), but
    the pushes say more than their id: the dynamic service's carry
    data.model_slug and data.app_number, the performance service's
    "checking" pushes carry data.url, one of the task's target URLs. A push
    is attributed only when that is unambiguous:
      1. it carries model_slug + app_number and/or url, and exactly one live
         attempt of this service matches all of what it carries (the
         attempt's model and app number; a URL among its target_urls);
      2. otherwise (nothing to match on, or several attempts match) as a
         last resort: exactly one live attempt among those candidates runs
         on a replica at the pushing connection's source address: the
         address sluice's last connection to that replica reached (learned
         from WSIO_OPEN, so a replica named by a host name matches once
         connected), or the replica URL's host when it is an address.
    A push whose data matches no live attempt is not attributed at all (it
    is likely a late push of an attempt that has ended), and two candidates
    are never guessed between. "Live" = dispatched to a replica and not yet
    ended; half-open probes are not attempts.
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "actors/endpoint/sl_endpoint_int.h"

typedef struct {
    const char *model;
    size_t model_len;
    int64_t app;
    bool has_model_app;
    const char *url;
    size_t url_len;
} s_keys_t;

/* app_number as the fleet sends it: an integer, or digits in a string. */
static bool s_app_number(const uint8_t *data, size_t len, int64_t *out)
{
    if (sl_mp_map_get_int(data, len, "app_number", out) == 0) {
        return true;
    }
    const char *s;
    size_t n;
    if (sl_mp_map_get_str(data, len, "app_number", &s, &n) != 0 || n == 0 || n > 18) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static void s_keys(const sl_progress_push_t *p, s_keys_t *k)
{
    memset(k, 0, sizeof *k);
    if (!p->data.ptr || !p->data.len) {
        return;
    }
    k->has_model_app =
        sl_mp_map_get_str(p->data.ptr, p->data.len, "model_slug", &k->model, &k->model_len) == 0 &&
        k->model_len > 0 && s_app_number(p->data.ptr, p->data.len, &k->app);
    if (sl_mp_map_get_str(p->data.ptr, p->data.len, "url", &k->url, &k->url_len) != 0) {
        k->url = NULL;
        k->url_len = 0;
    }
    while (k->url_len > 0 && k->url[k->url_len - 1] == '/') {
        k->url_len--; /* "http://h:80/" and "http://h:80" are one target */
    }
    if (k->url_len == 0) {
        k->url = NULL;
    }
}

static bool s_url_eq(const char *target, const char *url, size_t url_len)
{
    size_t n = strlen(target);
    while (n > 0 && target[n - 1] == '/') {
        n--;
    }
    return n == url_len && memcmp(target, url, n) == 0;
}

static bool s_matches(const sl_ep_attempt_t *a, const s_keys_t *k)
{
    if (k->has_model_app) {
        const char *m = a->start.model;
        if (!m || strlen(m) != k->model_len || memcmp(m, k->model, k->model_len) != 0 ||
            a->start.app_number != k->app) {
            return false;
        }
    }
    if (k->url) {
        bool found = false;
        for (size_t i = 0; i < a->start.target_urls.n && !found; i++) {
            found = s_url_eq(a->start.target_urls.v[i], k->url, k->url_len);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* The host of a ws:// or wss:// URL into out (lower case, no brackets). */
static void s_url_host(const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    const char *h = strstr(url, "://");
    if (!h || cap == 0) {
        return;
    }
    h += 3;
    size_t n;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]");
    } else {
        n = strcspn(h, ":/?#");
    }
    if (n >= cap) {
        return; /* longer than any address: matches nothing */
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)tolower((unsigned char)h[i]);
    }
    out[n] = '\0';
}

/* Whether replica r is at source (an IP address): the address its last
   connection reached, or its URL's host. Names are never resolved here
   (that would block the actor): a host name counts once a connection to
   it opened. */
static bool s_replica_at(const sl_ep_replica_t *r, const char *source)
{
    if (r->addr[0] && strcasecmp(r->addr, source) == 0) {
        return true;
    }
    char host[64];
    s_url_host(r->url, host, sizeof host);
    if (!host[0]) {
        return false;
    }
    if (strcmp(host, "localhost") == 0) {
        return strcmp(source, "127.0.0.1") == 0 || strcmp(source, "::1") == 0;
    }
    return strcasecmp(host, source) == 0;
}

static bool s_live(const sl_ep_attempt_t *a)
{
    return !a->probe && a->replica >= 0;
}

sl_ep_attempt_t *sl_ep_push_attribute(sl_ep_t *ep, const sl_progress_push_t *p, const char **why)
{
    *why = NULL;
    if (!p->service || strcmp(p->service, ep->service) != 0) {
        *why = "the push names no service, or another one";
        return NULL;
    }
    s_keys_t k;
    s_keys(p, &k);
    bool keyed = k.has_model_app || k.url;
    sl_ep_attempt_t *found = NULL;
    size_t n = 0;
    if (keyed) {
        for (sl_ep_attempt_t *a = ep->all; a; a = a->next) {
            if (s_live(a) && s_matches(a, &k)) {
                found = a;
                n++;
            }
        }
        if (n == 1) {
            return found;
        }
        if (n == 0) {
            *why = "no live attempt matches what the push carries";
            return NULL;
        }
    }
    if (!p->source || !p->source[0]) {
        *why = keyed ? "several live attempts match and the source address is unknown"
                     : "nothing to match on and the source address is unknown";
        return NULL;
    }
    found = NULL;
    n = 0;
    for (sl_ep_attempt_t *a = ep->all; a; a = a->next) {
        if (s_live(a) && (!keyed || s_matches(a, &k)) &&
            s_replica_at(&ep->replicas[a->replica], p->source)) {
            found = a;
            n++;
        }
    }
    if (n == 1) {
        return found;
    }
    *why = n == 0 ? "no live attempt on a replica at the source address"
                  : "several live attempts on replicas at the source address";
    return NULL;
}

void sl_ep_push_learn(sl_ep_t *ep, uint64_t conn, const char *peer)
{
    if (!peer || !peer[0]) {
        return;
    }
    int idx = -1;
    if (ep->protocol == SL_ENDPOINT_MUX && conn >= 1 && conn <= ep->n_replicas) {
        idx = (int)conn - 1; /* a replica's mux connection: id = index + 1 */
    } else {
        const sl_ep_attempt_t *a = sl_map_get(&ep->by_conn, conn);
        idx = a ? a->replica : -1;
    }
    if (idx >= 0 && (size_t)idx < ep->n_replicas) {
        sl_ep_replica_t *r = &ep->replicas[idx];
        snprintf(r->addr, sizeof r->addr, "%s", peer);
    }
}
