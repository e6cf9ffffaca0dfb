/* api — placeholder until the HTTP API lands: the listener is refused. */
#include "api.h"

api_t *api_new(worker_t *w) { (void)w; return NULL; }
void api_destroy(api_t **self_p) { (void)self_p; }
void api_accept(worker_t *w) { (void)w; }
void api_on_ready(worker_t *w, int fd, uint32_t events) { (void)w; (void)fd; (void)events; }
void api_timers(worker_t *w) { (void)w; }
void api_flush(worker_t *w) { (void)w; }
void api_reap(worker_t *w) { (void)w; }
int api_count(worker_t *w) { (void)w; return 0; }
void api_push_done(worker_t *w, int fd, uint32_t gen, const char *mid, const char *status)
{ (void)w; (void)fd; (void)gen; (void)mid; (void)status; }
void api_online_done(worker_t *w, int fd, uint32_t gen, int64_t users, int64_t sessions)
{ (void)w; (void)fd; (void)gen; (void)users; (void)sessions; }
void api_presence_done(worker_t *w, int fd, uint32_t gen, const env_t *e)
{ (void)w; (void)fd; (void)gen; (void)e; }
