/* metrics — see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "auth.h"
#include "client_json.h"
#include "log.h"

_Static_assert(CJ_CODE_COUNT <= 16, "metrics.h: M_ERR_BASE has 16 slots");
_Static_assert(AUTH_VERDICTS <= 12, "metrics.h: M_AUTH_BASE has 12 slots");


static int64_t (*s_rows)[M_COUNT];  /* slots + 1 rows; the last is the supervisor's */
static int s_slots;
static int64_t *s_mine;
static int64_t s_dummy[M_COUNT];

int
metrics_init(int slots)
{
    size_t len = sizeof(int64_t) * M_COUNT * (size_t)(slots + 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_warn("metrics: mmap");
        return -1;
    }
    s_rows = p;
    s_slots = slots;
    s_mine = s_rows[slots];
    return 0;
}

void
metrics_attach(int slot)
{
    if (!s_rows)
        s_mine = s_dummy;
    else
        s_mine = s_rows[slot < 0 || slot >= s_slots ? s_slots : slot];
}

void metrics_inc(metric_t m) { if (s_mine) s_mine[m]++; }
void metrics_dec(metric_t m) { if (s_mine) s_mine[m]--; }
void metrics_set(metric_t m, int64_t v) { if (s_mine) s_mine[m] = v; }
void metrics_add(metric_t m, int64_t d) { if (s_mine) s_mine[m] += d; }

void
metrics_refused(int status)
{
    switch (status) {
    case 400: metrics_inc(M_REFUSED_400); break;
    case 401: metrics_inc(M_REFUSED_401); break;
    case 403: metrics_inc(M_REFUSED_403); break;
    case 404: metrics_inc(M_REFUSED_404); break;
    case 426: metrics_inc(M_REFUSED_426); break;
    case 429: metrics_inc(M_REFUSED_429); break;
    case 431: metrics_inc(M_REFUSED_431); break;
    case 503: metrics_inc(M_REFUSED_503); break;
    default:  metrics_inc(M_REFUSED_OTHER); break;
    }
}

int64_t
metrics_sum(metric_t m)
{
    int64_t sum = 0;
    for (int i = 0; s_rows && i <= s_slots; i++)
        sum += s_rows[i][m];
    return sum;
}

int64_t
metrics_get(int slot, metric_t m)
{
    return s_rows && slot >= 0 && slot <= s_slots ? s_rows[slot][m] : 0;
}

int
metrics_slots(void)
{
    return s_slots;
}

void
metrics_reset_slot(int slot)
{
    /* a dead worker's gauges must not linger; its counters stay summed in
     * the supervisor row so totals never go backwards */
    if (!s_rows || slot < 0 || slot >= s_slots)
        return;
    s_rows[slot][M_CONNECTIONS] = 0;
    s_rows[slot][M_SESSIONS] = 0;
    s_rows[slot][M_BUS_UP] = 0;
    s_rows[slot][M_USERS] = 0;
    s_rows[slot][M_OUTBOUND_BYTES] = 0;
    for (int m = 0; m < M_COUNT; m++) {
        if (m == M_CONNECTIONS || m == M_SESSIONS || m == M_BUS_UP || m == M_USERS
            || m == M_OUTBOUND_BYTES)
            continue;
        s_rows[s_slots][m] += s_rows[slot][m];
        s_rows[slot][m] = 0;
    }
}

/* ---- rendering (GET /metrics) ---------------------------------------- */

/* Prometheus text exposition format 0.0.4: the HELP and TYPE lines of a
 * family. */
static int
s_family(buf_t *b, const char *name, const char *type, const char *help)
{
    return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int
metrics_render(buf_t *b, int bus_up)
{
    static const struct { metric_t m; const char *status; } refused[] = {
        { M_REFUSED_400, "400" }, { M_REFUSED_401, "401" }, { M_REFUSED_403, "403" },
        { M_REFUSED_404, "404" }, { M_REFUSED_426, "426" }, { M_REFUSED_429, "429" },
        { M_REFUSED_431, "431" },
        { M_REFUSED_503, "503" }, { M_REFUSED_OTHER, "other" },
    };
    static const struct { metric_t m; const char *label; } routed[] = {
        { M_ROUTED_CHAT, "chat" }, { M_ROUTED_GROUP, "group" }, { M_ROUTED_BCAST, "broadcast" },
    }, acks[] = {
        { M_ACK_DELIVERED, "delivered" }, { M_ACK_OFFLINE, "offline" }, { M_ACK_SENT, "sent" },
        { M_ACK_UNAVAILABLE, "unavailable" }, { M_ACK_JOINED, "joined" }, { M_ACK_LEFT, "left" },
    };
    static const struct { metric_t m; const char *name, *help; } simple[] = {
        { M_CLOSE_SLOW, "zwsd_slow_consumer_closes_total",
          "Sessions closed with 4008 because their outbound queue passed its cap." },
        { M_CLOSE_RATE, "zwsd_rate_limit_closes_total",
          "Sessions closed with 1008 for sustained rate-limit abuse." },
        { M_KICKED, "zwsd_sessions_replaced_total",
          "Sessions closed with 4001 by a newer login of the same user." },
        { M_WORKER_RESTARTS, "zwsd_worker_restarts_total", "Worker processes respawned." },
        { M_BROKER_RESTARTS, "zwsd_broker_restarts_total", "Embedded broker processes respawned." },
        { M_TOKEN_EXPIRED, "zwsd_token_expiry_closes_total",
          "Sessions closed with 4003 because their token expired." },
        { M_TOKEN_REFRESHED, "zwsd_token_refreshes_total", "Refresh frames accepted." },
    }, limits[] = {
        { M_LIMIT_PER_IP, "per_ip", NULL }, { M_LIMIT_CONNS, "max_conns", NULL },
        { M_LIMIT_DROPPED, "dropped", NULL }, { M_LIMIT_HS_TIMEOUT, "handshake_timeout", NULL },
    };
    long long v;
#define S(...) if (buf_appendf(b, __VA_ARGS__) < 0) return -1
    if (s_family(b, "zwsd_connections", "gauge", "Open WebSocket TCP connections.") < 0)
        return -1;
    S("zwsd_connections %lld\n", (long long)metrics_sum(M_CONNECTIONS));
    if (s_family(b, "zwsd_sessions", "gauge", "Upgraded WebSocket sessions.") < 0)
        return -1;
    S("zwsd_sessions %lld\n", (long long)metrics_sum(M_SESSIONS));
    if (s_family(b, "zwsd_handshakes_total", "counter", "WebSocket handshakes by result.") < 0)
        return -1;
    S("zwsd_handshakes_total{result=\"accepted\"} %lld\n", (long long)metrics_sum(M_HANDSHAKES_OK));
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        S("zwsd_handshakes_total{result=\"refused\",status=\"%s\"} %lld\n", refused[i].status,
          (long long)metrics_sum(refused[i].m));
    if (s_family(b, "zwsd_frames_total", "counter", "WebSocket data frames by direction.") < 0)
        return -1;
    S("zwsd_frames_total{direction=\"in\"} %lld\n", (long long)metrics_sum(M_FRAMES_IN));
    S("zwsd_frames_total{direction=\"out\"} %lld\n", (long long)metrics_sum(M_FRAMES_OUT));
    if (s_family(b, "zwsd_messages_routed_total", "counter",
                 "Messages handed to the broker, from clients and the API.") < 0)
        return -1;
    for (size_t i = 0; i < sizeof routed / sizeof *routed; i++)
        S("zwsd_messages_routed_total{kind=\"%s\"} %lld\n", routed[i].label,
          (long long)metrics_sum(routed[i].m));
    if (s_family(b, "zwsd_acks_total", "counter", "Acks and API outcomes by status.") < 0)
        return -1;
    for (size_t i = 0; i < sizeof acks / sizeof *acks; i++)
        S("zwsd_acks_total{status=\"%s\"} %lld\n", acks[i].label,
          (long long)metrics_sum(acks[i].m));
    if (s_family(b, "zwsd_errors_total", "counter", "Error frames sent to clients, by code.") < 0)
        return -1;
    for (int code = 1; code < CJ_CODE_COUNT; code++)
        S("zwsd_errors_total{code=\"%s\"} %lld\n", cj_code_name((cj_code_t)code),
          (long long)metrics_sum((metric_t)(M_ERR_BASE + code)));
    if (s_family(b, "zwsd_auth_refusals_total", "counter",
                 "Handshakes refused by JWT authentication, by reason.") < 0)
        return -1;
    for (int av = 1; av < AUTH_VERDICTS; av++)
        S("zwsd_auth_refusals_total{reason=\"%s\"} %lld\n", auth_name((auth_verdict_t)av),
          (long long)metrics_sum((metric_t)(M_AUTH_BASE + av)));
    if (s_family(b, "zwsd_limit_refusals_total", "counter",
                 "Connections refused or closed by a connection limit, by limit.") < 0)
        return -1;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        S("zwsd_limit_refusals_total{limit=\"%s\"} %lld\n", limits[i].name,
          (long long)metrics_sum(limits[i].m));
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++) {
        if (s_family(b, simple[i].name, "counter", simple[i].help) < 0)
            return -1;
        S("%s %lld\n", simple[i].name, (long long)metrics_sum(simple[i].m));
    }
    if (s_family(b, "zwsd_outbound_bytes", "gauge",
                 "Bytes allocated to sessions' outbound queues (frames not yet taken by the socket).") < 0)
        return -1;
    S("zwsd_outbound_bytes %lld\n", (long long)metrics_sum(M_OUTBOUND_BYTES));
    if (s_family(b, "zwsd_broker_up", "gauge",
                 "1 when the broker answers the worker that served this scrape.") < 0)
        return -1;
    S("zwsd_broker_up %d\n", bus_up);
    if (s_family(b, "zwsd_worker_connections", "gauge",
                 "Open WebSocket TCP connections per worker slot.") < 0)
        return -1;
    for (int slot = 0; slot < metrics_slots(); slot++) {
        v = (long long)metrics_get(slot, M_CONNECTIONS);
        S("zwsd_worker_connections{worker=\"%d\"} %lld\n", slot, v);
    }
#undef S
    return 0;
}
