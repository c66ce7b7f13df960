/*  sl_err.h: the one error table of sluice.

    Every function that can fail returns an int: 0 for success, a negative
    SL_E* code from this table for failure. Each code has a stable name (for
    logs and the API's error.code) and a human message. Library errors (zmq,
    LMDB, libwebsockets, msgpack, jansson) are translated into these codes in
    one place per library, next to the code that calls that library.
*/
#ifndef SL_ERR_H
#define SL_ERR_H

/* X(symbol, value, "name", "message") */
#define SL_ERR_TABLE(X)                                                                            \
    X(SL_OK, 0, "ok", "success")                                                                   \
    X(SL_EINVAL, -1, "invalid", "invalid argument")                                                \
    X(SL_ENOMEM, -2, "no_memory", "out of memory")                                                 \
    X(SL_ETIMEOUT, -3, "timeout", "deadline expired")                                              \
    X(SL_ENOTFOUND, -4, "not_found", "no such object")                                             \
    X(SL_EEXIST, -5, "exists", "already exists")                                                   \
    X(SL_EPROTO, -6, "malformed", "malformed message")                                             \
    X(SL_ETRUNC, -7, "truncated", "message truncated")                                             \
    X(SL_ETOOBIG, -8, "too_big", "declared length or size exceeds the limit")                      \
    X(SL_ETYPE, -9, "unknown_type", "unknown message type")                                        \
    X(SL_EVERSION, -10, "bad_version", "unsupported version")                                      \
    X(SL_ECLOSED, -11, "closed", "closed or shutting down")                                        \
    X(SL_EFULL, -12, "full", "queue or mailbox full")                                              \
    X(SL_EZMQ, -13, "zmq", "ZeroMQ call failed")                                                   \
    X(SL_ELMDB, -14, "lmdb", "LMDB call failed")                                                   \
    X(SL_ELWS, -15, "websocket", "libwebsockets call failed")                                      \
    X(SL_EIO, -16, "io", "input/output error")                                                     \
    X(SL_EBUSY, -17, "busy", "resource held by another process")                                   \
    X(SL_ESTATE, -18, "bad_state", "operation not allowed in the current state")                   \
    X(SL_EFATAL, -20, "fatal", "fatal actor error")                                                \
    X(SL_ECONFIG, -21, "config", "invalid configuration")                                          \
    X(SL_ECORRUPT, -22, "corrupt", "stored data is corrupt")                                       \
    X(SL_EMISSING, -24, "missing_field", "required field missing")                                 \
    X(SL_ETRAILING, -25, "trailing_bytes", "trailing bytes after message")                         \
    X(SL_EUNSUPPORTED, -28, "unsupported", "not supported")

enum {
#define SL_ERR_ENUM(sym, val, name, msg) sym = val,
    SL_ERR_TABLE(SL_ERR_ENUM)
#undef SL_ERR_ENUM
};

/* Stable short name of an error code ("timeout"); "unknown" for codes not in
   the table. Never NULL; static storage. */
const char *sl_err_name(int code);

/* Human-readable message for an error code; never NULL; static storage. */
const char *sl_err_msg(int code);

#endif
