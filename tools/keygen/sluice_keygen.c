/*  sluice-keygen: makes a CURVE certificate pair for sluiced's API and PUB.

    Writes NAME (the public certificate, to give to the other side) and
    NAME_secret (the secret certificate, mode 0600) in czmq's zcert format,
    the format sluiced's api/curve_secret_file and api/curve_clients_dir and
    sluicectl's --curve-* options read (pyzmq's zmq.auth writes it too).

    usage: sluice-keygen NAME [LABEL]
*/
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: sluice-keygen NAME [LABEL]\n"
                "writes NAME (public certificate) and NAME_secret (secret, mode 0600)\n");
        return argc < 2 ? 1 : 0;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "sluice-keygen: cannot make a key pair\n");
        return 1;
    }
    zcert_set_meta(cert, "name", "%s", argc == 3 ? argv[2] : argv[1]);
    int rc = zcert_save(cert, argv[1]);
    zcert_destroy(&cert);
    if (rc != 0) {
        fprintf(stderr, "sluice-keygen: cannot write %s\n", argv[1]);
        return 1;
    }
    char secret[4096];
    snprintf(secret, sizeof(secret), "%s_secret", argv[1]);
    chmod(secret, 0600);
    printf("%s\n%s\n", argv[1], secret);
    return 0;
}
