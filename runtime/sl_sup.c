/*  sl_sup.c: one_for_one supervision.

    A supervisor is an ordinary actor. Its init spawns the children with
    itself as parent; the runtime tells it of every child's exit with
    SL_MSG_ACTOR_EXIT. It restarts a child that failed (reason < 0) unless
    the restart intensity is exceeded, in which case it stops the other
    children and exits with SL_EFATAL so its own parent hears of it. The
    supervisor thread owns the children (it spawns and destroys them); the
    restart counter is an atomic so any thread may read it.
*/
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_actor_int.h"
#include "runtime/sl_log.h"
#include "runtime/sl_sup.h"

typedef struct {
    sl_actor_spec_t spec; /* name and parent point into the buffers below */
    char name[SL_NAME_MAX];
    sl_actor_t *actor;
} s_child_t;

typedef struct {
    sl_sup_policy_t policy;
    char name[SL_NAME_MAX];
    s_child_t *children;
    size_t n_children;
    int64_t *restart_times; /* ring of the last `intensity` restart times */
    size_t n_times;
    size_t next_time;
    _Atomic uint64_t restarts;
} s_sup_t;

static void s_sup_free(void *arg)
{
    s_sup_t *sup = arg;
    if (!sup) {
        return;
    }
    free(sup->children);
    free(sup->restart_times);
    free(sup);
}

static void s_stop_children(s_sup_t *sup)
{
    /* Reverse start order, as OTP does. */
    for (size_t i = sup->n_children; i-- > 0;) {
        sl_actor_destroy(&sup->children[i].actor);
    }
}

static int s_sup_init(sl_actor_t *self, void *args, void **state)
{
    s_sup_t *sup = args;
    *state = sup;
    for (size_t i = 0; i < sup->n_children; i++) {
        int rc = sl_actor_spawn(sl_actor_rt(self), &sup->children[i].spec, &sup->children[i].actor);
        if (rc < 0) {
            sl_error("supervisor %s: child %s failed to start: %s", sup->name,
                     sup->children[i].name, sl_err_name(rc));
            s_stop_children(sup);
            return rc;
        }
    }
    /* From here on the actor owns sup: sl_sup_restarts may read it until
       the supervisor is destroyed. */
    sl_actor_on_free_(self, s_sup_free, sup);
    return 0;
}

static void s_sup_fini(sl_actor_t *self, void *state)
{
    s_stop_children(state);
}

/* Reads {name, reason} from an exit notice. Bad bodies are ignored. */
static int s_decode_exit(const sl_msg_t *msg, char *name, int *reason)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = SL_EPROTO;
    bool have_name = false, have_reason = false;
    if (!msg->body ||
        msgpack_unpack_next(&u, (const char *)msg->body, msg->body_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        goto done;
    }
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        msgpack_object *k = &u.data.via.map.ptr[i].key;
        msgpack_object *v = &u.data.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            continue;
        }
        if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "name", 4) == 0 &&
            v->type == MSGPACK_OBJECT_STR && v->via.str.size < SL_NAME_MAX) {
            memcpy(name, v->via.str.ptr, v->via.str.size);
            name[v->via.str.size] = '\0';
            have_name = true;
        } else if (k->via.str.size == 6 && memcmp(k->via.str.ptr, "reason", 6) == 0) {
            if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && v->via.i64 >= INT32_MIN) {
                *reason = (int)v->via.i64;
                have_reason = true;
            } else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT32_MAX) {
                *reason = (int)v->via.u64;
                have_reason = true;
            }
        }
    }
    if (have_name && have_reason) {
        rc = 0;
    }
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* True when one more restart stays within intensity per period. */
static bool s_may_restart(s_sup_t *sup, int64_t now)
{
    if (sup->policy.intensity <= 0) {
        return false;
    }
    size_t recent = 0;
    for (size_t i = 0; i < sup->n_times; i++) {
        if (now - sup->restart_times[i] < sup->policy.period_ms) {
            recent++;
        }
    }
    if (recent >= (size_t)sup->policy.intensity) {
        return false;
    }
    sup->restart_times[sup->next_time] = now;
    sup->next_time = (sup->next_time + 1) % (size_t)sup->policy.intensity;
    if (sup->n_times < (size_t)sup->policy.intensity) {
        sup->n_times++;
    }
    return true;
}

static int s_sup_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    s_sup_t *sup = state;
    if (msg->type != SL_MSG_ACTOR_EXIT) {
        return 0; /* a supervisor has no other protocol */
    }
    char name[SL_NAME_MAX];
    int reason = 0;
    if (s_decode_exit(msg, name, &reason) < 0) {
        sl_warn("supervisor %s: malformed exit notice from %s", sup->name, msg->from);
        return 0;
    }
    s_child_t *child = NULL;
    for (size_t i = 0; i < sup->n_children; i++) {
        if (strcmp(sup->children[i].name, name) == 0) {
            child = &sup->children[i];
            break;
        }
    }
    if (!child || !child->actor) {
        return 0;
    }
    if (sl_actor_running(child->actor)) {
        return 0; /* stale notice: this child is a newer incarnation */
    }
    sl_info("supervisor %s: child %s exited: %s", sup->name, name, sl_err_name(reason));
    if (reason >= 0) {
        return 0; /* asked to stop: not restarted */
    }
    if (sl_rt_closing_(sl_actor_rt(self))) {
        return 0;
    }
    if (!s_may_restart(sup, sl_actor_now(self))) {
        sl_error("supervisor %s: restart intensity %d in %lld ms exceeded by %s; giving up",
                 sup->name, sup->policy.intensity, (long long)sup->policy.period_ms, name);
        s_stop_children(sup);
        return SL_EFATAL;
    }
    sl_actor_destroy(&child->actor);
    int rc = sl_actor_spawn(sl_actor_rt(self), &child->spec, &child->actor);
    if (rc == SL_ECLOSED) {
        sl_actor_stop(self);
        return 0;
    }
    if (rc < 0) {
        sl_error("supervisor %s: restart of %s failed: %s", sup->name, name, sl_err_name(rc));
        s_stop_children(sup);
        return SL_EFATAL;
    }
    atomic_fetch_add(&sup->restarts, 1);
    sl_info("supervisor %s: restarted %s", sup->name, name);
    return 0;
}

int sl_sup_spawn(sl_rt_t *rt, const char *name, sl_sup_policy_t policy,
                 const sl_actor_spec_t *children, size_t n_children, sl_actor_t **out)
{
    if (!rt || !name || !out || strlen(name) >= SL_NAME_MAX || (n_children && !children)) {
        return SL_EINVAL;
    }
    if (policy.intensity == 0 && policy.period_ms == 0) {
        policy.intensity = 3;
        policy.period_ms = 5000;
    }
    if (policy.intensity < 0 || policy.period_ms <= 0) {
        return SL_EINVAL;
    }
    s_sup_t *sup = calloc(1, sizeof(*sup));
    if (!sup) {
        return SL_ENOMEM;
    }
    int rc = SL_ENOMEM;
    sup->policy = policy;
    snprintf(sup->name, sizeof(sup->name), "%s", name);
    atomic_init(&sup->restarts, 0);
    sup->children = calloc(n_children ? n_children : 1, sizeof(*sup->children));
    sup->restart_times =
        calloc(policy.intensity > 0 ? (size_t)policy.intensity : 1, sizeof(int64_t));
    if (!sup->children || !sup->restart_times) {
        goto fail;
    }
    sup->n_children = n_children;
    for (size_t i = 0; i < n_children; i++) {
        s_child_t *c = &sup->children[i];
        if (!children[i].name || strlen(children[i].name) >= SL_NAME_MAX) {
            rc = SL_EINVAL;
            goto fail;
        }
        c->spec = children[i];
        snprintf(c->name, sizeof(c->name), "%s", children[i].name);
        c->spec.name = c->name;
        c->spec.parent = sup->name;
    }
    sl_actor_spec_t spec = {
        .name = sup->name,
        .init = s_sup_init,
        .handle = s_sup_handle,
        .fini = s_sup_fini,
        .args = sup,
    };
    rc = sl_actor_spawn(rt, &spec, out);
    if (rc < 0) {
        goto fail;
    }
    return 0;
fail:
    s_sup_free(sup);
    return rc;
}

uint64_t sl_sup_restarts(sl_actor_t *sup)
{
    s_sup_t *state = sup ? sl_actor_state_(sup) : NULL;
    return state ? atomic_load(&state->restarts) : 0;
}
