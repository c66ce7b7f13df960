/*  ctl_curve.c: sluicectl's CURVE client keys (--curve-server-key,
    --curve-client), for a sluiced whose API and PUB sockets require CURVE.

    The files are czmq zcert certificates: ZPL text whose `curve` section
    holds `public-key` and `secret-key` as 40-character Z85 strings. They
    are read here with a few lines rather than czmq, which sluicectl does not
    link. Keys are loaded once by main() and set on each socket before it
    connects; the secret key never leaves the ctl_t.
*/
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "tools/sluicectl/ctl.h"

/* Decodes `name = "<40 chars>"` when line holds it. */
static bool s_key_line(const char *line, const char *name, uint8_t *out)
{
    size_t name_len = strlen(name);
    while (*line == ' ') {
        line++;
    }
    if (strncmp(line, name, name_len) != 0) {
        return false;
    }
    const char *p = line + name_len;
    while (*p == ' ') {
        p++;
    }
    if (*p++ != '=') {
        return false;
    }
    while (*p == ' ') {
        p++;
    }
    char quote = (*p == '"' || *p == '\'') ? *p++ : '\0';
    if (strnlen(p, 40) < 40 || (quote && p[40] != quote)) {
        return false;
    }
    char z85[41];
    memcpy(z85, p, 40);
    z85[40] = '\0';
    return zmq_z85_decode(out, z85) != NULL;
}

/* Finds name's key in a zcert file's text. */
static bool s_key(const char *text, const char *name, uint8_t *out)
{
    for (const char *line = text; line;) {
        if (s_key_line(line, name, out)) {
            return true;
        }
        const char *eol = strchr(line, '\n');
        line = eol ? eol + 1 : NULL;
    }
    return false;
}

static bool s_read(const char *path, char *text, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return false;
    }
    size_t n = fread(text, 1, size - 1, f);
    fclose(f);
    text[n] = '\0';
    return n > 0;
}

int ctl_curve_setup(ctl_t *self, const char *server_file, const char *client_file)
{
    bool have_server = server_file && *server_file, have_client = client_file && *client_file;
    if (!have_server && !have_client) {
        return CTL_EXIT_OK;
    }
    if (!have_server || !have_client) {
        return ctl_usage_error(NULL, "CURVE needs both --curve-server-key and --curve-client");
    }
    char text[16384];
    if (!s_read(server_file, text, sizeof(text)) ||
        !s_key(text, "public-key", self->curve_server)) {
        return ctl_usage_error(NULL,
                               "--curve-server-key: '%s' is not a readable certificate "
                               "with a public-key",
                               server_file);
    }
    if (!s_read(client_file, text, sizeof(text)) ||
        !s_key(text, "public-key", self->curve_public) ||
        !s_key(text, "secret-key", self->curve_secret)) {
        return ctl_usage_error(NULL,
                               "--curve-client: '%s' is not a readable secret certificate "
                               "(public-key and secret-key)",
                               client_file);
    }
    self->curve = true;
    return CTL_EXIT_OK;
}

void ctl_curve_apply(const ctl_t *self, void *sock)
{
    if (self->curve) {
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, self->curve_server, 32);
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, self->curve_public, 32);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, self->curve_secret, 32);
    }
}
