/*  ep_testutil.h: helpers shared by the endpoint module's tests: the
    monotonic clock for deadlines, and an endpoint's ENDPOINT_STATUS reply
    asked as a request (so every message sent before it has been handled).
    Test-only code, test thread; include after <cmocka.h>.
*/
#ifndef EP_TESTUTIL_H
#define EP_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "proto/sl_catalog.h"
#include "proto/sl_ids.h"
#include "runtime/sl_actor.h"

static inline int64_t ep_test_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Asks the actor `mailbox` (an endpoint or the progress listener) for its
   status through `owner`; fails the test when there is no decodable reply
   within timeout_ms. Caller clears *out (sl_endpoint_status_reply_clear). */
static inline void ep_test_status_of(sl_port_t *owner, const char *mailbox, int64_t timeout_ms,
                                     sl_endpoint_status_reply_t *out)
{
    sl_endpoint_status_t q = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_endpoint_status_encode(&q, &buf, &len), 0);
    sl_msg_t *rep = NULL;
    assert_int_equal(
        sl_port_request(owner, mailbox, SL_MSG_ENDPOINT_STATUS, buf, len, timeout_ms, &rep), 0);
    free(buf);
    *out = (sl_endpoint_status_reply_t){0};
    assert_int_equal(sl_endpoint_status_reply_decode(rep->body, rep->body_len, out), 0);
    sl_msg_destroy(&rep);
}

/* The same for endpoint.<service>. */
static inline void ep_test_status(sl_port_t *owner, const char *service, int64_t timeout_ms,
                                  sl_endpoint_status_reply_t *out)
{
    char to[SL_NAME_MAX];
    assert_int_equal(sl_ids_endpoint_mailbox(to, sizeof to, service), 0);
    ep_test_status_of(owner, to, timeout_ms, out);
}

#endif
