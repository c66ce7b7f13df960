/*  mock_control.h: the mock fleet's TCP control port.

    A listener on 127.0.0.1 served by its own thread. Clients send one
    command per line and get one answer line back ("ok ..." / "error ...");
    the commands themselves run on the fleet's service thread through
    sl_mock_fleet_command(). Up to 8 clients at once; lines longer than
    1 KiB are answered with an error and discarded. The control object owns
    its thread and sockets; the fleet pointer is borrowed for its lifetime.
*/
#ifndef SL_MOCK_CONTROL_H
#define SL_MOCK_CONTROL_H

typedef struct sl_mock_control_t sl_mock_control_t;
struct sl_mock_fleet_t;

/* Binds 127.0.0.1:port (0 = the kernel picks) and starts the thread.
   Returns NULL on failure. */
sl_mock_control_t *sl_mock_control_new(struct sl_mock_fleet_t *fleet, int port);

/* The bound port. */
int sl_mock_control_port(const sl_mock_control_t *self);

/* Stops the thread (within ~100 ms), closes every socket. Accepts NULL;
   nulls *p_self. */
void sl_mock_control_destroy(sl_mock_control_t **p_self);

#endif
