/* io — see io.h. */
#include "io.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

int
io_init(io_set_t *s, int epfd, uint64_t tag, int cap, const int64_t *now,
        const int64_t *timeout, int ntl)
{
    *s = (io_set_t){ .epfd = epfd, .tag = tag, .cap = cap, .now = now, .ntl = ntl };
    if (ntl < 0 || ntl > IO_TL_MAX || cap <= 0)
        return -1;
    for (int i = 0; i < ntl; i++) {
        s->timeout[i] = timeout[i];
        list_init(&s->timers[i]);
    }
    list_init(&s->dirty);
    list_init(&s->later);
    list_init(&s->reap);
    s->by_fd = calloc((size_t)cap, sizeof *s->by_fd);
    return s->by_fd ? 0 : -1;
}

void
io_fini(io_set_t *s)
{
    free(s->by_fd);
    s->by_fd = NULL;
    s->cap = 0;
}

int
io_add(io_set_t *s, io_item_t *it, int fd, uint32_t events)
{
    if (fd < 0 || fd >= s->cap)
        return -1;
    struct epoll_event ev = { .events = events, .data.u64 = s->tag | (uint64_t)fd };
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    it->fd = fd;
    it->gen = ++s->gen;
    it->tl = IO_TL_NONE;
    it->dirty = it->dead = 0;
    it->tlink.prev = it->tlink.next = NULL;
    it->dlink.prev = it->dlink.next = NULL;
    s->by_fd[fd] = it;
    s->count++;
    return 0;
}

io_item_t *
io_get(const io_set_t *s, int fd)
{
    return fd >= 0 && fd < s->cap ? s->by_fd[fd] : NULL;
}

io_item_t *
io_lookup(const io_set_t *s, int fd, uint32_t gen)
{
    io_item_t *it = io_get(s, fd);
    return it && it->gen == gen && !it->dead ? it : NULL;
}

void
io_set_timer(io_set_t *s, io_item_t *it, int tl)
{
    list_unlink(&it->tlink);
    it->tl = (uint8_t)tl;
    it->t_ms = *s->now;
    list_push_tail(&s->timers[tl], &it->tlink);
}

void
io_clear_timer(io_item_t *it)
{
    list_unlink(&it->tlink);
    it->tl = IO_TL_NONE;
}

io_item_t *
io_expired(io_set_t *s, int tl)
{
    link_t *h = &s->timers[tl];
    if (list_empty(h))
        return NULL;
    io_item_t *it = list_entry(h->next, io_item_t, tlink);
    if (it->t_ms + s->timeout[tl] > *s->now)
        return NULL;
    io_clear_timer(it);
    return it;
}

void
io_mark_dirty(io_set_t *s, io_item_t *it)
{
    if (!it->dirty && !it->dead) {
        it->dirty = 1;
        list_push_tail(&s->dirty, &it->dlink);
    }
}

io_item_t *
io_next_dirty(io_set_t *s)
{
    if (list_empty(&s->dirty))
        return NULL;
    io_item_t *it = list_entry(s->dirty.next, io_item_t, dlink);
    list_unlink(&it->dlink);            /* it->dirty stays 1 while serviced */
    return it;
}

void
io_clean(io_item_t *it)
{
    if (!it->dead)
        it->dirty = 0;
}

void
io_later(io_set_t *s, io_item_t *it)
{
    if (!it->dead && !list_linked(&it->dlink))
        list_push_tail(&s->later, &it->dlink);
}

void
io_flush_end(io_set_t *s)
{
    while (!list_empty(&s->later)) {
        link_t *l = s->later.next;
        list_unlink(l);
        list_push_tail(&s->dirty, l);
    }
}

void
io_kill(io_set_t *s, io_item_t *it)
{
    if (it->dead)
        return;
    it->dead = 1;
    io_clear_timer(it);
    list_unlink(&it->dlink);
    it->dirty = 1;                      /* never re-marked */
    list_push_tail(&s->reap, &it->dlink);
}

io_item_t *
io_next_dead(io_set_t *s)
{
    if (list_empty(&s->reap))
        return NULL;
    io_item_t *it = list_entry(s->reap.next, io_item_t, dlink);
    list_unlink(&it->dlink);
    close(it->fd);                      /* also leaves epoll */
    s->by_fd[it->fd] = NULL;
    s->count--;
    return it;
}
