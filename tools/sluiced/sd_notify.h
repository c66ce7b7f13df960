/*  sd_notify.h: systemd's service notification protocol, without libsystemd.

    A service started with Type=notify tells systemd its state by sending a
    datagram of "KEY=VALUE" lines to the unix socket named in
    $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
    sluiced sends READY=1 once its API is up, WATCHDOG=1 every half of
    $WATCHDOG_USEC while the runtime is healthy, RELOADING=1/READY=1 around
    a SIGHUP reload and STOPPING=1 on SIGTERM. Outside systemd (no
    $NOTIFY_SOCKET) every call does nothing. Main thread only.
*/
#ifndef SLUICED_SD_NOTIFY_H
#define SLUICED_SD_NOTIFY_H

#include <stdint.h>

/* Sends state (e.g. "READY=1\nSTATUS=running") to $NOTIFY_SOCKET. 0 sent,
   1 no socket configured (not under systemd), -1 the send failed (errno
   set). */
int sld_notify(const char *state);

/* The interval at which WATCHDOG=1 is due: half of $WATCHDOG_USEC, in ms;
   0 when systemd asked for no watchdog (unset, zero, unparsable, or
   $WATCHDOG_PID naming another process). */
int64_t sld_watchdog_interval_ms(void);

#endif
