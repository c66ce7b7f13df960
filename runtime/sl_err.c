/*  sl_err.c: names and messages for the error table in sl_err.h. */
#include "runtime/sl_err.h"

const char *sl_err_name(int code)
{
    switch (code) {
#define SL_ERR_NAME(sym, val, name, msg)                                                 \
    case val:                                                                            \
        return name;
        SL_ERR_TABLE(SL_ERR_NAME)
#undef SL_ERR_NAME
    }
    return "unknown";
}

const char *sl_err_msg(int code)
{
    switch (code) {
#define SL_ERR_MSG(sym, val, name, msg)                                                  \
    case val:                                                                            \
        return msg;
        SL_ERR_TABLE(SL_ERR_MSG)
#undef SL_ERR_MSG
    }
    return "unknown error";
}
