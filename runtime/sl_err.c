/*  sl_err.c: names and messages for the error table in sl_err.h. */
#include "runtime/sl_err.h"

#include <stddef.h>

typedef struct {
    const char *name, *msg;
} s_row_t;

/* Codes are 0 and small negatives: row -code. */
static const s_row_t s_rows[] = {
#define SL_ERR_ROW(sym, val, name, msg) [-(val)] = {name, msg},
    SL_ERR_TABLE(SL_ERR_ROW)
#undef SL_ERR_ROW
};

static const s_row_t *s_row(int code)
{
    size_t i = (size_t) - (long)code;
    return code <= 0 && i < sizeof s_rows / sizeof s_rows[0] && s_rows[i].name ? &s_rows[i] : NULL;
}

const char *sl_err_name(int code)
{
    const s_row_t *r = s_row(code);
    return r ? r->name : "unknown";
}

const char *sl_err_msg(int code)
{
    const s_row_t *r = s_row(code);
    return r ? r->msg : "unknown error";
}
