/* rbk_logs._scan: the compiled fast path of logs.inspect.
 *
 * A Scanner runs a small "program" compiled from an nginx log_format (literals and
 * variables; see rbk_logs/fastpath.py) over blocks of lines and folds every line it
 * is *sure* about straight into exact aggregates: per second, per status, per client,
 * path, user agent and referer (interned strings), latency histograms, and per
 * (client, bucket) counts for peaks. A line it is not sure about - anything the
 * format's regex might judge differently, malformed lines included - is handed back
 * untouched, and the Python side parses it with the regex (polars) and adds the row
 * through add_row(). So this file only has to be sound, never complete.
 *
 * parse() (GIL released, any number of threads at once) turns a block into records;
 * aggregate() (GIL released, one thread) folds them in, so blocks are parsed on the
 * other cores while the previous ones are aggregated.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { OP_LIT = 1, OP_VAR = 2, OP_OPT_RT = 3 };
enum {
    K_ADDR = 1, K_NONSPACE, K_NONSPACE0, K_QUOTED, K_TIME_LOCAL, K_MSEC, K_STATUS,
    K_DIGITS, K_DIGITS_DASH, K_NUM_DASH, K_PIPE
};
enum {
    S_NONE = 0, S_REMOTE, S_TIME_LOCAL, S_MSEC, S_REQUEST, S_METHOD, S_URI, S_STATUS,
    S_REFERER, S_UA, S_RT, S_XFF, NSLOTS
};
enum { C_REMOTE = 0, C_XFF_FIRST = 1, C_XFF_LAST = 2 };

#define MAX_OPS 64
#define NULL_KEY INT64_MIN

typedef struct {
    int op, kind, slot;
    char *lit;
    Py_ssize_t litlen;
} Op;

/* ---------------------------------------------------------------- hashing */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    while (n >= 8) {
        uint64_t w; memcpy(&w, p, 8);
        h = (h ^ mix64(w)) * 0x100000001b3ULL;
        p += 8; n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix64(h ^ w ^ (n << 56));
}

/* ---------------------------------------------------- interned strings */

/* One hash slot: everything a lookup needs in one cache line, the string excepted. */
typedef struct { uint64_t hash; uint64_t off; uint32_t id, len; } ISlot;

typedef struct {
    ISlot *slots;      /* hash 0 = empty (real hashes are forced odd) */
    size_t cap;        /* power of two */
    char *arena; size_t alen, acap;
    size_t *off; uint32_t *len;
    int64_t *c0, *c1, *c2;   /* per-id counters */
    size_t n, ncap;          /* ids in use; id 0 is the null value */
} Intern;

static int intern_init(Intern *t) {
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->slots = calloc(t->cap, sizeof *t->slots);
    t->ncap = 1024;
    t->off = calloc(t->ncap, sizeof *t->off);
    t->len = calloc(t->ncap, sizeof *t->len);
    t->c0 = calloc(t->ncap, sizeof(int64_t));
    t->c1 = calloc(t->ncap, sizeof(int64_t));
    t->c2 = calloc(t->ncap, sizeof(int64_t));
    t->acap = 1 << 16;
    t->arena = malloc(t->acap);
    t->n = 1;
    return t->slots && t->off && t->len && t->c0 && t->c1 && t->c2 && t->arena;
}

static void intern_free(Intern *t) {
    free(t->slots); free(t->off); free(t->len);
    free(t->c0); free(t->c1); free(t->c2); free(t->arena);
}

static int intern_grow_slots(Intern *t) {
    size_t cap = t->cap * 2;
    ISlot *slots = calloc(cap, sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].hash) continue;
        size_t j = t->slots[i].hash & (cap - 1);
        while (slots[j].hash) j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots; t->cap = cap;
    return 1;
}

static int grow_array(void **p, size_t elem, size_t old, size_t cap) {
    void *q = realloc(*p, elem * cap);
    if (!q) return 0;
    memset((char *)q + elem * old, 0, elem * (cap - old));
    *p = q;
    return 1;
}

/* id of the string (inserting it), 0 for a null value (p == NULL); -1 on no memory.
 * h is hash_bytes(p, n) | 1, computed by the parsing thread. */
static int64_t intern(Intern *t, const char *p, size_t n, uint64_t h) {
    if (p == NULL) return 0;
    size_t i = h & (t->cap - 1);
    while (t->slots[i].hash) {
        const ISlot *x = &t->slots[i];
        if (x->hash == h && x->len == n && memcmp(t->arena + x->off, p, n) == 0) return x->id;
        i = (i + 1) & (t->cap - 1);
    }
    if (t->n >= t->ncap) {
        size_t cap = t->ncap * 2;
        if (!grow_array((void **)&t->off, sizeof *t->off, t->ncap, cap) ||
            !grow_array((void **)&t->len, sizeof *t->len, t->ncap, cap) ||
            !grow_array((void **)&t->c0, sizeof(int64_t), t->ncap, cap) ||
            !grow_array((void **)&t->c1, sizeof(int64_t), t->ncap, cap) ||
            !grow_array((void **)&t->c2, sizeof(int64_t), t->ncap, cap)) return -1;
        t->ncap = cap;
    }
    if (t->alen + n > t->acap) {
        size_t cap = t->acap * 2;
        while (cap < t->alen + n) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return -1;
        t->arena = a; t->acap = cap;
    }
    uint32_t id = (uint32_t)t->n++;
    memcpy(t->arena + t->alen, p, n);
    t->off[id] = t->alen; t->len[id] = (uint32_t)n; t->alen += n;
    t->slots[i] = (ISlot){h, t->off[id], id, (uint32_t)n};
    if (t->n * 2 > t->cap && !intern_grow_slots(t)) return -1;
    return id;
}

/* ------------------------------------------------ (int64, int64) -> counts */

typedef struct { int64_t a, b, v0, v1; uint8_t used; } PEntry;
typedef struct { PEntry *e; size_t cap, n; } PMap;

static int pmap_init(PMap *m, size_t cap) {
    m->e = calloc(cap, sizeof *m->e); m->cap = cap; m->n = 0;
    return m->e != NULL;
}

static inline size_t pmap_slot(const PMap *m, int64_t a, int64_t b) {
    return mix64((uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b) & (m->cap - 1);
}

static int pmap_grow(PMap *m) {
    PMap bigger;
    if (!pmap_init(&bigger, m->cap * 2)) return 0;
    for (size_t i = 0; i < m->cap; i++) {
        PEntry *x = &m->e[i];
        if (!x->used) continue;
        size_t j = pmap_slot(&bigger, x->a, x->b);
        while (bigger.e[j].used) j = (j + 1) & (bigger.cap - 1);
        bigger.e[j] = *x;
    }
    bigger.n = m->n;
    free(m->e);
    *m = bigger;
    return 1;
}

static PEntry *pmap_get(PMap *m, int64_t a, int64_t b) {
    size_t i = pmap_slot(m, a, b);
    while (m->e[i].used) {
        if (m->e[i].a == a && m->e[i].b == b) return &m->e[i];
        i = (i + 1) & (m->cap - 1);
    }
    if ((m->n + 1) * 2 > m->cap) {
        if (!pmap_grow(m)) return NULL;
        return pmap_get(m, a, b);
    }
    PEntry *x = &m->e[i];
    x->used = 1; x->a = a; x->b = b; x->v0 = 0; x->v1 = 0;
    m->n++;
    return x;
}

/* ------------------------------------------------------------- scanner */

#define DENSE_RT 65536

typedef struct { int64_t bucket; int64_t *rt, *n; size_t len; } RtBucket;
typedef struct { int64_t cur_bucket, cur_n, peak; uint8_t has_cur, reopened; } ClientState;
typedef struct { int64_t bucket, n; uint32_t cid; } ClosedEntry;

typedef struct {
    PyObject_HEAD
    Op ops[MAX_OPS];
    int nops;
    int client_mode;
    int64_t bucket;
    int has_since, has_until;
    double since, until;
    int64_t horizon;
    /* counts */
    int64_t lines, blank, parsed, late, deferred;
    double first_ts, last_ts;
    int have_ts;
    double block_hi;
    int64_t block_rows;
    int64_t final_before; int have_final;
    /* aggregates */
    Intern clients, paths, uas, refs;
    /* per (client, bucket) counts, for peaks and distinct clients per bucket. Lines come
     * in time order, so each client has one current bucket; a client's earlier buckets
     * wait in `closed` until they are final. A client seen out of order moves to the
     * exact (slower) open_cb map for good. */
    ClientState *cs; size_t cs_cap;
    ClosedEntry *closed; size_t n_closed, cap_closed;
    uint32_t *active; size_t n_active, cap_active;   /* clients with a current bucket */
    PEntry *last_bc;   /* bucket_clients entry of the last finalised bucket */
    PMap per_second;    /* (sec, 0) -> n, e5 */
    int64_t cur_sec, cur_sec_n, cur_sec_e5; /* the current second, not yet in per_second */
    int64_t status_n[1001];  /* by status code; [1000] = no status */
    PMap latency;       /* (rt_ms, 0) -> n for rt_ms >= DENSE_RT */
    int64_t *lat_dense; /* rt_ms -> n below DENSE_RT */
    PMap open_cb;       /* (client id, bucket) -> n, not yet final */
    /* latency per open bucket: sorted (rt, n) runs, plus the current bucket as a dense
     * histogram (lines are in time order: it changes once per bucket, not per line) */
    RtBucket *open_rt; size_t n_open_rt, cap_open_rt;
    int64_t cur_rt_bucket; int has_cur_rt;
    uint32_t *rt_dense; int32_t *rt_touched; size_t n_touched;
    int64_t *rt_big; size_t n_big, cap_big;   /* current bucket's rt >= DENSE_RT */
    PMap bucket_clients;/* (bucket, 0) -> distinct clients of final entries */
    PMap bucket_p95;    /* (bucket, 0) -> p95 of final entries (max if split) */
    /* time_local cache */
} Scanner;

typedef struct { const char *p; size_t n; } Span;

typedef struct {
    Span s[NSLOTS];
    int has[NSLOTS];
} Fields;

static const int8_t MONTH_DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static inline int dig(char c) { return c >= '0' && c <= '9'; }
static inline int d2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* "10/Oct/2000:13:55:36 -0700" -> epoch seconds; 0 when unsure (the regex path decides) */
/* the last time_local converted, per parse() call (parse may run on several threads) */
typedef struct { char text[26]; double ts; int valid; } TimeCache;

static int parse_time_local(TimeCache *s, const char *p, double *ts) {
    if (s->valid && memcmp(p, s->text, 26) == 0) {
        *ts = s->ts;
        return 1;
    }
    static const char *MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (!(dig(p[0]) && dig(p[1]) && p[2] == '/' && p[6] == '/' && dig(p[7]) && dig(p[8]) &&
          dig(p[9]) && dig(p[10]) && p[11] == ':' && dig(p[12]) && dig(p[13]) &&
          p[14] == ':' && dig(p[15]) && dig(p[16]) && p[17] == ':' && dig(p[18]) &&
          dig(p[19]) && p[20] == ' ' && (p[21] == '+' || p[21] == '-') && dig(p[22]) &&
          dig(p[23]) && dig(p[24]) && dig(p[25])))
        return 0;
    int month = 0;
    for (int i = 0; i < 12; i++)
        if (memcmp(p + 3, MONTHS + 3 * i, 3) == 0) { month = i + 1; break; }
    if (!month) return 0;
    int day = d2(p), year = d2(p + 7) * 100 + d2(p + 9);
    int hh = d2(p + 12), mm = d2(p + 15), ss = d2(p + 18);
    int oh = d2(p + 22), om = d2(p + 24);
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int mdays = MONTH_DAYS[month - 1] + (month == 2 && leap);
    if (year < 1000 || day < 1 || day > mdays || hh > 23 || mm > 59 || ss > 59 || oh > 23 ||
        om > 59)
        return 0;
    int64_t secs = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
                   hh * 3600 + mm * 60 + ss;
    int64_t off = oh * 3600 + om * 60;
    secs -= p[21] == '+' ? off : -off;
    *ts = (double)secs;
    memcpy(s->text, p, 26);
    s->ts = *ts;
    s->valid = 1;
    return 1;
}

static int all_digits(const char *p, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) if (!dig(p[i])) return 0;
    return 1;
}

/* \d+(\.\d+)? */
static int is_num(const char *p, size_t n) {
    const char *dot = memchr(p, '.', n);
    if (!dot) return all_digits(p, n);
    return all_digits(p, (size_t)(dot - p)) && all_digits(dot + 1, n - (size_t)(dot - p) - 1);
}

static int valid(int kind, const char *p, size_t n) {
    switch (kind) {
    case K_ADDR:
        if (n == 0) return 0;
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            if (!(dig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                  c == '.'))
                return 0;
        }
        return 1;
    case K_NONSPACE:
    case K_NONSPACE0:
        if (n == 0) return kind == K_NONSPACE0;
        /* bytes >= 0x80 might be Unicode white space to the regex: let it decide */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == ' ' || (c >= '\t' && c <= '\r') || c >= 0x80) return 0;
        }
        return 1;
    case K_QUOTED:
        return memchr(p, '"', n) == NULL;
    case K_MSEC: {
        const char *dot = memchr(p, '.', n);
        return dot && is_num(p, n);
    }
    case K_STATUS: return n == 3 && all_digits(p, 3);
    case K_DIGITS: return all_digits(p, n);
    case K_DIGITS_DASH: return (n == 1 && p[0] == '-') || all_digits(p, n);
    case K_NUM_DASH: return (n == 1 && p[0] == '-') || is_num(p, n);
    case K_PIPE: return n == 1 && (p[0] == 'p' || p[0] == '.');
    }
    return 0;
}

/* Run the program over one line; 1 = matched (fields filled), 0 = not sure. */
static int match_line(const Scanner *s, const char *p, const char *end, Fields *f) {
    for (int i = 0; i < s->nops; i++) {
        const Op *op = &s->ops[i];
        if (op->op == OP_LIT) {
            if ((size_t)(end - p) < (size_t)op->litlen || memcmp(p, op->lit, op->litlen) != 0)
                return 0;
            p += op->litlen;
        } else if (op->op == OP_VAR) {
            const char *q;
            if (op->kind == K_TIME_LOCAL) {
                if (end - p < 26) return 0;
                q = p + 26;
            } else if (i + 1 < s->nops && s->ops[i + 1].op == OP_LIT) {
                q = memchr(p, s->ops[i + 1].lit[0], (size_t)(end - p));
                if (!q) return 0;
            } else {
                q = end;
            }
            if (op->kind != K_TIME_LOCAL && !valid(op->kind, p, (size_t)(q - p))) return 0;
            if (op->slot) {
                f->s[op->slot].p = p; f->s[op->slot].n = (size_t)(q - p);
                f->has[op->slot] = 1;
            }
            p = q;
        } else { /* OP_OPT_RT: "( $request_time)?" at the end of combined */
            if (p == end) continue;
            if (*p != ' ' || !valid(K_NUM_DASH, p + 1, (size_t)(end - p - 1))) return 0;
            f->s[S_RT].p = p + 1; f->s[S_RT].n = (size_t)(end - p - 1);
            f->has[S_RT] = 1;
            p = end;
        }
    }
    return p == end;
}

static int parse_double(const char *p, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, p, n); buf[n] = 0;
    char *e;
    *out = strtod(buf, &e);
    return e == buf + n;
}

/* "0.572" -> 572 ms, as round(strtod(x) * 1000) gives (exact decimal arithmetic for up to
 * three decimals and nine integer digits, where that product is never near a .5) */
static int ms_of(const char *p, size_t n, int64_t *ms) {
    const char *dot = memchr(p, '.', n);
    size_t ni = dot ? (size_t)(dot - p) : n, nf = dot ? n - ni - 1 : 0;
    if (ni >= 1 && ni <= 9 && nf <= 3) {
        int64_t v = 0;
        for (size_t i = 0; i < ni; i++) v = v * 10 + (p[i] - '0');
        int64_t f = 0;
        for (size_t i = 0; i < 3; i++) f = f * 10 + (i < nf ? dot[1 + i] - '0' : 0);
        *ms = v * 1000 + f;
        return 1;
    }
    double x;
    if (!parse_double(p, n, &x) || x > 1e12) return 0;
    *ms = (int64_t)round(x * 1000.0);
    return 1;
}

static inline int is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* first/last X-Forwarded-For hop that is not empty or "-"; 0 if none, -1 if unsure */
static int xff_hop(const Span *x, int last, Span *out) {
    const char *p = x->p, *end = x->p + x->n;
    int found = 0;
    for (size_t i = 0; i < x->n; i++) if ((unsigned char)p[i] >= 0x80) return -1;
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        const char *a = p, *b = e;
        while (a < b && is_ws((unsigned char)*a)) a++;
        while (b > a && is_ws((unsigned char)b[-1])) b--;
        if (b > a && !(b - a == 1 && *a == '-')) {
            out->p = a; out->n = (size_t)(b - a); found = 1;
            if (!last) return 1;
        }
        if (!c) break;
        p = c + 1;
    }
    return found;
}

static int grow_clients(Scanner *s, size_t need) {
    if (need <= s->cs_cap) return 1;
    size_t cap = s->cs_cap ? s->cs_cap : 1024;
    while (cap < need) cap *= 2;
    if (!grow_array((void **)&s->cs, sizeof *s->cs, s->cs_cap, cap)) return 0;
    s->cs_cap = cap;
    return 1;
}

static int push(void **arr, size_t *n, size_t *cap, size_t elem, const void *item) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        void *a = realloc(*arr, c * elem);
        if (!a) return 0;
        *arr = a; *cap = c;
    }
    memcpy((char *)*arr + *n * elem, item, elem);
    (*n)++;
    return 1;
}

static int open_cb_add(Scanner *s, int64_t cid, int64_t bucket, int64_t n) {
    PEntry *e = pmap_get(&s->open_cb, cid, bucket);
    if (!e) return 0;
    e->v0 += n;
    return 1;
}

static int track_client(Scanner *s, int64_t cid, int64_t bucket) {
    if (!grow_clients(s, (size_t)cid + 1)) return 0;
    ClientState *c = &s->cs[cid];
    if (c->reopened) return open_cb_add(s, cid, bucket, 1);
    if (!c->has_cur) {
        c->has_cur = 1; c->cur_bucket = bucket; c->cur_n = 1;
        uint32_t id = (uint32_t)cid;
        return push((void **)&s->active, &s->n_active, &s->cap_active, sizeof id, &id);
    }
    if (bucket == c->cur_bucket) { c->cur_n++; return 1; }
    if (bucket > c->cur_bucket) {
        ClosedEntry x = {c->cur_bucket, c->cur_n, (uint32_t)cid};
        if (!push((void **)&s->closed, &s->n_closed, &s->cap_closed, sizeof x, &x)) return 0;
        c->cur_bucket = bucket; c->cur_n = 1;
        return 1;
    }
    /* an earlier bucket again: count this client exactly in the map from now on (its
     * closed entries follow at the next fold) */
    c->reopened = 1; c->has_cur = 0;
    return open_cb_add(s, cid, c->cur_bucket, c->cur_n) && open_cb_add(s, cid, bucket, 1);
}

static int flush_second(Scanner *s) {
    if (s->cur_sec_n == 0) return 1;
    PEntry *e = pmap_get(&s->per_second, s->cur_sec, 0);
    if (!e) return 0;
    e->v0 += s->cur_sec_n; e->v1 += s->cur_sec_e5;
    s->cur_sec_n = s->cur_sec_e5 = 0;
    return 1;
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* The current bucket's histogram -> a sorted run, merged into its open bucket. */
static int flush_rt(Scanner *s) {
    if (!s->has_cur_rt || (s->n_touched == 0 && s->n_big == 0)) return 1;
    size_t n = s->n_touched + s->n_big;
    int64_t *rt = malloc(n * sizeof *rt), *cnt = malloc(n * sizeof *cnt);
    if (!rt || !cnt) { free(rt); free(cnt); return 0; }
    size_t len = 0;
    int32_t lo = INT32_MAX, hi = -1;
    for (size_t i = 0; i < s->n_touched; i++) {
        if (s->rt_touched[i] < lo) lo = s->rt_touched[i];
        if (s->rt_touched[i] > hi) hi = s->rt_touched[i];
    }
    if (s->n_touched && (size_t)(hi - lo) <= 16 * s->n_touched) {
        for (int32_t v = lo; v <= hi; v++)  /* dense enough: walking beats sorting */
            if (s->rt_dense[v]) { rt[len] = v; cnt[len++] = s->rt_dense[v]; s->rt_dense[v] = 0; }
    } else {
        qsort(s->rt_touched, s->n_touched, sizeof *s->rt_touched, cmp_i32);
        for (size_t i = 0; i < s->n_touched; i++) {
            int32_t v = s->rt_touched[i];
            rt[len] = v; cnt[len++] = s->rt_dense[v];
            s->rt_dense[v] = 0;
        }
    }
    qsort(s->rt_big, s->n_big, sizeof *s->rt_big, cmp_i64);
    for (size_t i = 0; i < s->n_big; i++) {
        if (len && rt[len - 1] == s->rt_big[i]) cnt[len - 1]++;
        else { rt[len] = s->rt_big[i]; cnt[len++] = 1; }
    }
    s->n_touched = s->n_big = 0;
    RtBucket *b = NULL;
    for (size_t i = 0; i < s->n_open_rt; i++)
        if (s->open_rt[i].bucket == s->cur_rt_bucket) { b = &s->open_rt[i]; break; }
    if (!b) {
        if (s->n_open_rt == s->cap_open_rt) {
            size_t cap = s->cap_open_rt ? s->cap_open_rt * 2 : 64;
            RtBucket *o = realloc(s->open_rt, cap * sizeof *o);
            if (!o) { free(rt); free(cnt); return 0; }
            s->open_rt = o; s->cap_open_rt = cap;
        }
        b = &s->open_rt[s->n_open_rt++];
        b->bucket = s->cur_rt_bucket; b->rt = rt; b->n = cnt; b->len = len;
        return 1;
    }
    /* the bucket came back (a late line): merge two sorted runs */
    int64_t *mr = malloc((b->len + len) * sizeof *mr), *mn = malloc((b->len + len) * sizeof *mn);
    if (!mr || !mn) { free(mr); free(mn); free(rt); free(cnt); return 0; }
    size_t i = 0, j = 0, k = 0;
    while (i < b->len || j < len) {
        if (j == len || (i < b->len && b->rt[i] < rt[j])) { mr[k] = b->rt[i]; mn[k++] = b->n[i++]; }
        else if (i == b->len || rt[j] < b->rt[i]) { mr[k] = rt[j]; mn[k++] = cnt[j++]; }
        else { mr[k] = rt[j]; mn[k++] = cnt[j++] + b->n[i++]; }
    }
    free(b->rt); free(b->n); free(rt); free(cnt);
    b->rt = mr; b->n = mn; b->len = k;
    return 1;
}

/* nearest-rank p95 of a sorted run */
static int64_t run_p95(const RtBucket *b) {
    int64_t total = 0, cum = 0;
    for (size_t i = 0; i < b->len; i++) total += b->n[i];
    double rank = ceil((double)total * 0.95);
    for (size_t i = 0; i < b->len; i++) {
        cum += b->n[i];
        if ((double)cum >= rank) return b->rt[i];
    }
    return b->len ? b->rt[b->len - 1] : 0;
}

static int p95_max_into(PMap *dst, int64_t bucket, int64_t p95) {
    PEntry *e = pmap_get(dst, bucket, 0);
    if (!e) return 0;
    if (!e->v1 || p95 > e->v0) e->v0 = p95;
    e->v1 = 1;
    return 1;
}

/* A parsed line: the four strings as (pointer, length, hash), NULL = no value. */
enum { F_CLIENT = 0, F_PATH, F_UA, F_REF, NSTR };
typedef struct { const char *p[NSTR]; uint32_t n[NSTR]; uint64_t h[NSTR]; } Strs;

static inline void set_str(Strs *x, int i, const char *p, size_t n) {
    x->p[i] = p; x->n[i] = (uint32_t)n; x->h[i] = p ? hash_bytes(p, n) | 1 : 0;
}

/* Fold one normalised row into the aggregates (after the since/until filter). */
static int add(Scanner *s, double ts, int64_t status, int get, int has_rt, int64_t rt,
               const Strs *x) {
    if (s->has_since && ts < s->since) return 1;
    if (s->has_until && ts >= s->until) return 1;
    s->parsed++;
    if (!s->have_ts) { s->first_ts = s->last_ts = ts; s->have_ts = 1; }
    if (ts < s->first_ts) s->first_ts = ts;
    if (ts > s->last_ts) s->last_ts = ts;
    if (s->block_rows == 0 || ts > s->block_hi) s->block_hi = ts;
    s->block_rows++;
    int64_t sec = (int64_t)floor(ts);
    int64_t bucket = (int64_t)(floor(ts / (double)s->bucket) * (double)s->bucket);
    int err5 = status >= 500 && status < 600;
    int cacheable = get && (status == 200 || status == 304);

    PEntry *e;
    if (sec != s->cur_sec || s->cur_sec_n == 0) {
        if (!flush_second(s)) return 0;
        s->cur_sec = sec;
    }
    s->cur_sec_n++; s->cur_sec_e5 += err5;
    s->status_n[status >= 0 && status < 1000 ? status : 1000]++;  /* 1000: no status */

    int64_t cid = intern(&s->clients, x->p[F_CLIENT], x->n[F_CLIENT], x->h[F_CLIENT]);
    int64_t pid = intern(&s->paths, x->p[F_PATH], x->n[F_PATH], x->h[F_PATH]);
    int64_t uid = intern(&s->uas, x->p[F_UA], x->n[F_UA], x->h[F_UA]);
    int64_t rid = intern(&s->refs, x->p[F_REF], x->n[F_REF], x->h[F_REF]);
    if (cid < 0 || pid < 0 || uid < 0 || rid < 0) return 0;
    s->clients.c0[cid]++;
    s->paths.c0[pid]++; s->paths.c1[pid] += cacheable; s->paths.c2[pid] += get;
    s->uas.c0[uid]++;
    s->refs.c0[rid]++;

    if (s->have_final && bucket < s->final_before) s->late++;
    if (!track_client(s, cid, bucket)) return 0;
    if (has_rt) {
        if (rt < 0) rt = 0;
        if (!s->has_cur_rt || bucket != s->cur_rt_bucket) {
            if (!flush_rt(s)) return 0;
            s->cur_rt_bucket = bucket; s->has_cur_rt = 1;
        }
        if (rt < DENSE_RT) {
            s->lat_dense[rt]++;
            if (s->rt_dense[rt]++ == 0) s->rt_touched[s->n_touched++] = (int32_t)rt;
        } else {
            if (!(e = pmap_get(&s->latency, rt, 0))) return 0;
            e->v0++;
            if (s->n_big == s->cap_big) {
                size_t cap = s->cap_big ? s->cap_big * 2 : 64;
                int64_t *b = realloc(s->rt_big, cap * sizeof *b);
                if (!b) return 0;
                s->rt_big = b; s->cap_big = cap;
            }
            s->rt_big[s->n_big++] = rt;
        }
    }
    return 1;
}

/* ---------------------------------------------------- parsing (phase 1) */

/* One parsed line, strings as offsets into its block (UINT32_MAX = no value). */
typedef struct {
    double ts;
    int64_t rt;
    int32_t status;          /* 1000 = none */
    uint8_t get, has_rt;
    uint32_t off[NSTR], len[NSTR];
    uint64_t h[NSTR];
} Rec;

/* A parsed block: records, the lines left to the regex, counts. Made by Scanner.parse
 * (on a worker thread), consumed by Scanner.aggregate (on the main one). */
typedef struct {
    PyObject_HEAD
    Py_buffer view;          /* the block the records point into (bytes, bytearray...) */
    Rec *recs; size_t n, cap;
    char *defer; size_t dlen, dcap;
    int64_t lines, blank, deferred;
    double lo, hi; int have_ts;
} Batch;

static int batch_defer(Batch *b, const char *p, size_t n) {
    if (b->dlen + n + 1 > b->dcap) {
        size_t cap = b->dcap ? b->dcap * 2 : 1 << 16;
        while (cap < b->dlen + n + 1) cap *= 2;
        char *d = realloc(b->defer, cap);
        if (!d) return 0;
        b->defer = d; b->dcap = cap;
    }
    memcpy(b->defer + b->dlen, p, n);
    b->defer[b->dlen + n] = '\n';
    b->dlen += n + 1;
    b->deferred++;
    return 1;
}

static inline void rec_str(Rec *r, int i, const char *base, const char *p, size_t n) {
    if (!p) { r->off[i] = UINT32_MAX; r->len[i] = 0; r->h[i] = 0; return; }
    r->off[i] = (uint32_t)(p - base); r->len[i] = (uint32_t)n; r->h[i] = hash_bytes(p, n) | 1;
}

static int parse_line(const Scanner *s, TimeCache *tc, Batch *bt, const char *base,
                      const char *p, const char *end) {
    Fields f;
    memset(f.has, 0, sizeof f.has);
    if (!match_line(s, p, end, &f)) return batch_defer(bt, p, (size_t)(end - p));
    double ts = 0;
    if (f.has[S_TIME_LOCAL]) {
        if (!parse_time_local(tc, f.s[S_TIME_LOCAL].p, &ts))
            return batch_defer(bt, p, (size_t)(end - p));
    } else if (f.has[S_MSEC]) {
        if (!parse_double(f.s[S_MSEC].p, f.s[S_MSEC].n, &ts))
            return batch_defer(bt, p, (size_t)(end - p));
    }
    Span method = {NULL, 0}, path = {NULL, 0}, client = {NULL, 0};
    if (f.has[S_REQUEST]) {
        const char *r = f.s[S_REQUEST].p, *re = r + f.s[S_REQUEST].n, *a = r;
        while (a < re && *a >= 'A' && *a <= 'Z') a++;
        if (a > r && a < re && *a == ' ') {
            method.p = r; method.n = (size_t)(a - r);
            const char *b = a + 1, *c = b;
            while (c < re && *c != ' ' && *c != '?') c++;
            path.p = b; path.n = (size_t)(c - b);
        }
    } else {
        if (f.has[S_METHOD]) method = f.s[S_METHOD];
        if (f.has[S_URI]) {
            const char *u = f.s[S_URI].p, *q = memchr(u, '?', f.s[S_URI].n);
            path.p = u; path.n = q ? (size_t)(q - u) : f.s[S_URI].n;
        }
    }
    if (f.has[S_REMOTE]) client = f.s[S_REMOTE];
    if (s->client_mode != C_REMOTE && f.has[S_XFF]) {
        Span hop;
        int found = xff_hop(&f.s[S_XFF], s->client_mode == C_XFF_LAST, &hop);
        if (found < 0) return batch_defer(bt, p, (size_t)(end - p));
        if (found) client = hop;
    }
    int64_t rt = 0;
    int has_rt = 0;
    if (f.has[S_RT] && !(f.s[S_RT].n == 1 && f.s[S_RT].p[0] == '-')) {
        if (!ms_of(f.s[S_RT].p, f.s[S_RT].n, &rt)) return batch_defer(bt, p, (size_t)(end - p));
        has_rt = 1;
    }
    if (bt->n == bt->cap) {
        size_t cap = bt->cap ? bt->cap * 2 : 4096;
        Rec *r = realloc(bt->recs, cap * sizeof *r);
        if (!r) return 0;
        bt->recs = r; bt->cap = cap;
    }
    Rec *r = &bt->recs[bt->n++];
    r->ts = ts; r->rt = rt; r->has_rt = (uint8_t)has_rt;
    r->status = f.has[S_STATUS] ? d2(f.s[S_STATUS].p) * 10 + (f.s[S_STATUS].p[2] - '0') : 1000;
    r->get = method.p && ((method.n == 3 && memcmp(method.p, "GET", 3) == 0) ||
                          (method.n == 4 && memcmp(method.p, "HEAD", 4) == 0));
    rec_str(r, F_CLIENT, base, client.p, client.n);
    rec_str(r, F_PATH, base, path.p, path.n);
    rec_str(r, F_UA, base, f.has[S_UA] ? f.s[S_UA].p : NULL, f.s[S_UA].n);
    rec_str(r, F_REF, base, f.has[S_REFERER] ? f.s[S_REFERER].p : NULL, f.s[S_REFERER].n);
    if (!bt->have_ts || ts < bt->lo) bt->lo = ts;
    if (!bt->have_ts || ts > bt->hi) bt->hi = ts;
    bt->have_ts = 1;
    return 1;
}

static PyTypeObject BatchType;

/* parse(block: any bytes-like object) -> Batch; the GIL is released while it runs, and parse() calls
 * may run on several threads at once (they only read the program) */
static PyObject *Scanner_parse(Scanner *s, PyObject *arg) {
    Batch *bt = (Batch *)BatchType.tp_alloc(&BatchType, 0);
    if (!bt) return NULL;
    if (PyObject_GetBuffer(arg, &bt->view, PyBUF_SIMPLE) < 0) {
        Py_DECREF(bt);
        return NULL;
    }
    if (bt->view.len >= UINT32_MAX) {
        Py_DECREF(bt);
        PyErr_SetString(PyExc_ValueError, "block over 4 GB");
        return NULL;
    }
    const char *base = bt->view.buf, *p = base, *end = p + bt->view.len;
    int ok = 1;
    TimeCache tc = {.valid = 0};
    Py_BEGIN_ALLOW_THREADS
    while (p < end && ok) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        while (le > p && le[-1] == '\r') le--;
        bt->lines++;
        if (le == p) bt->blank++;
        else ok = parse_line(s, &tc, bt, base, p, le);
        p = nl ? nl + 1 : end;
    }
    Py_END_ALLOW_THREADS
    if (!ok) { Py_DECREF(bt); return PyErr_NoMemory(); }
    return (PyObject *)bt;
}

/* aggregate(batch) -> bytes: fold the records in; returns the lines left to the regex */
static PyObject *Scanner_aggregate(Scanner *s, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &BatchType)) {
        PyErr_SetString(PyExc_TypeError, "aggregate() takes a Batch");
        return NULL;
    }
    Batch *bt = (Batch *)arg;
    const char *base = bt->view.buf;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    s->lines += bt->lines; s->blank += bt->blank; s->deferred += bt->deferred;
    for (size_t i = 0; i < bt->n && ok; i++) {
        Rec *r = &bt->recs[i];
        Strs x;
        for (int k = 0; k < NSTR; k++) {
            x.p[k] = r->off[k] == UINT32_MAX ? NULL : base + r->off[k];
            x.n[k] = r->len[k]; x.h[k] = r->h[k];
        }
        ok = add(s, r->ts, r->status, r->get, r->has_rt, r->rt, &x);
    }
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
    return PyBytes_FromStringAndSize(bt->defer, (Py_ssize_t)bt->dlen);
}

static void Batch_dealloc(Batch *b) {
    if (b->view.obj) PyBuffer_Release(&b->view);
    free(b->recs); free(b->defer);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static PyObject *Batch_span(Batch *b, void *Py_UNUSED(closure)) {
    if (!b->have_ts) Py_RETURN_NONE;
    return Py_BuildValue("(dd)", b->lo, b->hi);
}

static PyObject *Batch_size(Batch *b, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(b->view.len);
}

static PyGetSetDef Batch_getset[] = {
    {"size", (getter)Batch_size, NULL, "bytes in the block", NULL},
    {"span", (getter)Batch_span, NULL, "(first, last) timestamp of the parsed lines, or None",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rbk_logs._scan.Batch",
    .tp_basicsize = sizeof(Batch),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_getset = Batch_getset,
    .tp_doc = "A parsed block (Scanner.parse), to give to Scanner.aggregate",
};

static int str_arg(PyObject *o, Strs *x, int i) {
    if (o == Py_None) { set_str(x, i, NULL, 0); return 1; }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(o, &n);
    if (!p) return 0;
    set_str(x, i, p, (size_t)n);
    return 1;
}

/* add_row(ts, client, method, path, status, referer, user_agent, rt_ms): a row the
 * regex parsed (strings or None; status/rt_ms int or None) */
static PyObject *Scanner_add_row(Scanner *s, PyObject *args) {
    double ts;
    PyObject *client, *method, *path, *status, *ref, *ua, *rt;
    if (!PyArg_ParseTuple(args, "dOOOOOOO", &ts, &client, &method, &path, &status, &ref, &ua,
                          &rt))
        return NULL;
    Strs x;
    if (!str_arg(client, &x, F_CLIENT) || !str_arg(path, &x, F_PATH) ||
        !str_arg(ua, &x, F_UA) || !str_arg(ref, &x, F_REF))
        return NULL;
    int get = 0;
    if (method != Py_None) {
        const char *m = PyUnicode_AsUTF8(method);
        if (!m) return NULL;
        get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    }
    int64_t st = 1000, r = 0;
    if (status != Py_None && (st = PyLong_AsLongLong(status)) == -1 && PyErr_Occurred())
        return NULL;
    if (rt != Py_None && (r = PyLong_AsLongLong(rt)) == -1 && PyErr_Occurred()) return NULL;
    if (!add(s, ts, st, get, rt != Py_None, r, &x)) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* A (client, bucket) count that can no longer change. */
static int finalise(Scanner *s, int64_t cid, int64_t bucket, int64_t n) {
    if (!s->last_bc || s->last_bc->a != bucket) {
        s->last_bc = pmap_get(&s->bucket_clients, bucket, 0);  /* may move the table */
        if (!s->last_bc) return 0;
    }
    s->last_bc->v0++;
    if (n > s->cs[cid].peak) s->cs[cid].peak = n;
    return 1;
}

/* Everything in buckets before `horizon` becomes final. */
static int fold_to(Scanner *s, int64_t horizon) {
    s->last_bc = NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->n_closed; i++) {
        ClosedEntry *x = &s->closed[i];
        if (s->cs[x->cid].reopened) {
            if (!open_cb_add(s, x->cid, x->bucket, x->n)) return 0;
        } else if (x->bucket < horizon) {
            if (!finalise(s, x->cid, x->bucket, x->n)) return 0;
        } else {
            s->closed[k++] = *x;
        }
    }
    s->n_closed = k;
    k = 0;
    for (size_t i = 0; i < s->n_active; i++) {
        uint32_t cid = s->active[i];
        ClientState *c = &s->cs[cid];
        if (!c->has_cur) continue;  /* moved to the map */
        if (c->cur_bucket < horizon) {
            if (!finalise(s, cid, c->cur_bucket, c->cur_n)) return 0;
            c->has_cur = 0;
        } else {
            s->active[k++] = cid;
        }
    }
    s->n_active = k;
    if (s->open_cb.n) {
        size_t stay = 0, cap = 1 << 10;
        for (size_t i = 0; i < s->open_cb.cap; i++)
            stay += s->open_cb.e[i].used && s->open_cb.e[i].b >= horizon;
        while (cap < stay * 3) cap *= 2;
        PMap keep;
        if (!pmap_init(&keep, cap)) return 0;
        for (size_t i = 0; i < s->open_cb.cap; i++) {
            PEntry *x = &s->open_cb.e[i];
            if (!x->used) continue;
            if (x->b >= horizon) {
                PEntry *e = pmap_get(&keep, x->a, x->b);
                if (!e) { free(keep.e); return 0; }
                e->v0 = x->v0;
            } else if (!finalise(s, x->a, x->b, x->v0)) {
                free(keep.e);
                return 0;
            }
        }
        free(s->open_cb.e);
        s->open_cb = keep;
    }
    s->last_bc = NULL;
    if (!s->have_final || horizon > s->final_before) s->final_before = horizon;
    s->have_final = 1;

    if (!flush_rt(s)) return 0;
    k = 0;
    for (size_t i = 0; i < s->n_open_rt; i++) {
        RtBucket *r = &s->open_rt[i];
        if (r->bucket < horizon) {
            if (!p95_max_into(&s->bucket_p95, r->bucket, run_p95(r))) return 0;
            free(r->rt); free(r->n);
        } else {
            s->open_rt[k++] = *r;
        }
    }
    s->n_open_rt = k;
    return 1;
}

/* fold(): buckets older than HORIZON before this block's newest line are final */
static PyObject *Scanner_fold(Scanner *s, PyObject *Py_UNUSED(ignored)) {
    if (s->block_rows == 0) Py_RETURN_NONE;
    s->block_rows = 0;
    if (!fold_to(s, (int64_t)s->block_hi - s->horizon)) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------- results */

static PyObject *str_of(Intern *t, size_t id) {
    if (id == 0) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(t->arena + t->off[id], t->len[id], "replace");
}

static PyObject *key_obj(int64_t k) {
    if (k == NULL_KEY) Py_RETURN_NONE;
    return PyLong_FromLongLong(k);
}

/* {"key": [...], "n": [...], ...} of an interned table's non-zero rows */
static PyObject *intern_table(Intern *t, int ncounts) {
    PyObject *keys = PyList_New(0), *c[3] = {PyList_New(0), PyList_New(0), PyList_New(0)};
    PyObject *out = NULL;
    if (!keys || !c[0] || !c[1] || !c[2]) goto done;
    int64_t *cols[3] = {t->c0, t->c1, t->c2};
    for (size_t id = 0; id < t->n; id++) {
        if (!t->c0[id]) continue;
        PyObject *k = str_of(t, id);
        if (!k || PyList_Append(keys, k) < 0) { Py_XDECREF(k); goto done; }
        Py_DECREF(k);
        for (int j = 0; j < ncounts; j++) {
            PyObject *v = PyLong_FromLongLong(cols[j][id]);
            if (!v || PyList_Append(c[j], v) < 0) { Py_XDECREF(v); goto done; }
            Py_DECREF(v);
        }
    }
    out = Py_BuildValue("(OOOO)", keys, c[0], c[1], c[2]);
done:
    Py_XDECREF(keys); Py_XDECREF(c[0]); Py_XDECREF(c[1]); Py_XDECREF(c[2]);
    return out;
}

/* (keys a, v0, v1) lists of a PMap */
static PyObject *pmap_table(PMap *m) {
    PyObject *a = PyList_New(0), *v0 = PyList_New(0), *v1 = PyList_New(0), *out = NULL;
    if (!a || !v0 || !v1) goto done;
    for (size_t i = 0; i < m->cap; i++) {
        PEntry *x = &m->e[i];
        if (!x->used) continue;
        PyObject *k = key_obj(x->a), *p = PyLong_FromLongLong(x->v0),
                 *q = PyLong_FromLongLong(x->v1);
        int bad = !k || !p || !q || PyList_Append(a, k) < 0 || PyList_Append(v0, p) < 0 ||
                  PyList_Append(v1, q) < 0;
        Py_XDECREF(k); Py_XDECREF(p); Py_XDECREF(q);
        if (bad) goto done;
    }
    out = Py_BuildValue("(OOO)", a, v0, v1);
done:
    Py_XDECREF(a); Py_XDECREF(v0); Py_XDECREF(v1);
    return out;
}

/* result() -> dict of tables. The end of the input: every bucket becomes final, so
 * lines added afterwards would count as late. */
static PyObject *Scanner_result(Scanner *s, PyObject *Py_UNUSED(ignored)) {
    /* the end of the input: every bucket is final */
    if (!flush_second(s) || !fold_to(s, INT64_MAX)) return PyErr_NoMemory();
    PMap status = {0};
    PyObject *out = NULL, *peaks_k = NULL, *peaks_v = NULL;
    for (int64_t v = 0; v < DENSE_RT; v++) {
        if (!s->lat_dense[v]) continue;
        PEntry *e = pmap_get(&s->latency, v, 0);
        if (!e) goto nomem;
        e->v0 += s->lat_dense[v];
        s->lat_dense[v] = 0;
    }
    if (!pmap_init(&status, 64)) goto nomem;
    for (int64_t v = 0; v <= 1000; v++) {
        if (!s->status_n[v]) continue;
        PEntry *e = pmap_get(&status, v == 1000 ? NULL_KEY : v, 0);
        if (!e) goto nomem;
        e->v0 = s->status_n[v];
    }
    if (!grow_clients(s, s->clients.n)) goto nomem;
    peaks_k = PyList_New(0); peaks_v = PyList_New(0);
    if (!peaks_k || !peaks_v) goto fail;
    for (size_t id = 0; id < s->clients.n; id++) {
        if (!s->clients.c0[id]) continue;
        PyObject *k = str_of(&s->clients, id), *v = PyLong_FromLongLong(s->cs[id].peak);
        int bad = !k || !v || PyList_Append(peaks_k, k) < 0 || PyList_Append(peaks_v, v) < 0;
        Py_XDECREF(k); Py_XDECREF(v);
        if (bad) goto fail;
    }
    PyObject *first = s->have_ts ? PyFloat_FromDouble(s->first_ts) : Py_NewRef(Py_None);
    PyObject *last = s->have_ts ? PyFloat_FromDouble(s->last_ts) : Py_NewRef(Py_None);
    out = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:(OO),s:L,s:L,s:L,s:L,s:L,s:N,s:N}",
        "per_second", pmap_table(&s->per_second), "status", pmap_table(&status),
        "latency", pmap_table(&s->latency), "clients", intern_table(&s->clients, 1),
        "paths", intern_table(&s->paths, 3), "user_agents", intern_table(&s->uas, 1),
        "referers", intern_table(&s->refs, 1), "p95", pmap_table(&s->bucket_p95),
        "clients_per_bucket", pmap_table(&s->bucket_clients), "peaks", peaks_k, peaks_v,
        "lines", (long long)s->lines, "blank", (long long)s->blank,
        "parsed", (long long)s->parsed, "late", (long long)s->late,
        "deferred", (long long)s->deferred,
        "first_ts", first, "last_ts", last);
    goto fail; /* cleanup only */
nomem:
    PyErr_NoMemory();
fail:
    Py_XDECREF(peaks_k); Py_XDECREF(peaks_v);
    free(status.e);
    return out;
}

/* ------------------------------------------------------------- type */

static void Scanner_dealloc(Scanner *s) {
    for (int i = 0; i < s->nops; i++) free(s->ops[i].lit);
    intern_free(&s->clients); intern_free(&s->paths); intern_free(&s->uas);
    intern_free(&s->refs);
    free(s->cs); free(s->closed); free(s->active);
    PMap *maps[] = {&s->per_second, &s->latency, &s->open_cb, &s->bucket_clients,
                    &s->bucket_p95};
    for (size_t i = 0; i < s->n_open_rt; i++) { free(s->open_rt[i].rt); free(s->open_rt[i].n); }
    free(s->open_rt); free(s->lat_dense); free(s->rt_dense); free(s->rt_touched);
    free(s->rt_big);
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) free(maps[i]->e);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* Scanner(program, client_mode, bucket, since, until, horizon)
 * program: [(op, kind, slot, literal bytes)], since/until: float or None */
static int Scanner_init(Scanner *s, PyObject *args, PyObject *kw) {
    PyObject *program, *since, *until;
    long long bucket, horizon;
    if (!PyArg_ParseTuple(args, "OiLOOL", &program, &s->client_mode, &bucket, &since, &until,
                          &horizon))
        return -1;
    if (!PyList_Check(program) || PyList_GET_SIZE(program) > MAX_OPS || bucket < 1) {
        PyErr_SetString(PyExc_ValueError, "bad program or bucket");
        return -1;
    }
    s->bucket = bucket; s->horizon = horizon;
    if ((s->has_since = since != Py_None) && (s->since = PyFloat_AsDouble(since)) == -1.0 &&
        PyErr_Occurred())
        return -1;
    if ((s->has_until = until != Py_None) && (s->until = PyFloat_AsDouble(until)) == -1.0 &&
        PyErr_Occurred())
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(program); i++) {
        Op *op = &s->ops[i];
        const char *lit;
        Py_ssize_t litlen;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(program, i), "iiiy#", &op->op, &op->kind,
                              &op->slot, &lit, &litlen))
            return -1;
        if (op->slot < 0 || op->slot >= NSLOTS || (op->op == OP_LIT && litlen == 0)) {
            PyErr_SetString(PyExc_ValueError, "bad op");
            return -1;
        }
        op->lit = malloc(litlen + 1);
        if (!op->lit) { PyErr_NoMemory(); return -1; }
        memcpy(op->lit, lit, litlen);
        op->litlen = litlen;
        s->nops = (int)i + 1;
    }
    if (!intern_init(&s->clients) || !intern_init(&s->paths) || !intern_init(&s->uas) ||
        !intern_init(&s->refs) || !pmap_init(&s->per_second, 1 << 14) ||
        !pmap_init(&s->latency, 1 << 6) || !pmap_init(&s->open_cb, 1 << 14) ||
        !(s->lat_dense = calloc(DENSE_RT, sizeof *s->lat_dense)) ||
        !(s->rt_dense = calloc(DENSE_RT, sizeof *s->rt_dense)) ||
        !(s->rt_touched = calloc(DENSE_RT, sizeof *s->rt_touched)) ||
        !pmap_init(&s->bucket_clients, 1 << 12) || !pmap_init(&s->bucket_p95, 1 << 12)) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyMethodDef Scanner_methods[] = {
    {"parse", (PyCFunction)Scanner_parse, METH_O,
     "parse(block) -> Batch (GIL released; any number of threads at once)"},
    {"aggregate", (PyCFunction)Scanner_aggregate, METH_O,
     "aggregate(batch) -> bytes: fold a parsed block in; return the lines left to the regex"},
    {"add_row", (PyCFunction)Scanner_add_row, METH_VARARGS,
     "add_row(ts, client, method, path, status, referer, user_agent, rt_ms)"},
    {"fold", (PyCFunction)Scanner_fold, METH_NOARGS, "finalise buckets behind the horizon"},
    {"result", (PyCFunction)Scanner_result, METH_NOARGS,
     "the aggregate tables, at the end of the input"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rbk_logs._scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
    .tp_doc = "Compiled access-log scanner (see rbk_logs.fastpath)",
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "Compiled fast path of logs.inspect.", -1, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&BatchType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
