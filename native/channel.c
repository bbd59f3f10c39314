/* channel.c — see channel.h. */
#include "channel.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sys.h"

/* How long the reader waits for a full batch before it takes what the
   writers have as it is (pw_channel_offer). */
#define PW_PARTIAL_AFTER_MS 10

struct pw_batch {
  struct pw_batch *next;
  uint8_t *rec, *str, *raw;
  size_t rec_cap, str_cap, raw_cap;
  uint32_t rec_len, str_len, raw_len, str_len16, nrec;
  /* The last record is a run of names (pw_channel_put_name) that may grow:
     its key, and the hold its next name must have (0: names not entered). */
  bool run_open;
  uint32_t run_kind, run_type, run_hold_next;
  uint64_t run_group;
  /* Offered (pw_channel_offer): the writer's token (the address of its
     cur), which the reader may take the batch by (setting it to 0) while
     the writer is away; 0 otherwise. */
  atomic_uintptr_t offer;
};

struct pw_channel {
  pthread_mutex_t mu;
  pthread_cond_t cv_free, cv_ready;
  pw_batch *all; /**< every batch (array); the first nmade have buffers */
  int nall, nmade;
  int allowed;   /**< batches that may be made now */
  size_t batch_bytes;
  pw_batch *free_list;
  pw_batch *ready_head, *ready_tail;
  pw_batch *held; /**< the batch the reader is reading */
  bool closed, cancelled;
  atomic_uint_fast64_t stalls; /**< waits for a free batch begun so far */
  atomic_int waiting;          /**< writers waiting for a free batch now */
  uint64_t stalls_seen;        /**< stalls at the last pw_channel_held_back */
  /* The reader waits with nothing ready and nothing offered: the next
     writer to append hands its batch over as it is.  Read by every writer
     at every record: a cache line of its own, written only when the
     reader starts or stops starving. */
  char pad_before[64];
  atomic_bool starved;
  char pad_after[64 - sizeof(atomic_bool)];
};

/* A writer's cur while its batch is offered: the batch's address with its
   low bit set (batches are aligned: the bit is otherwise 0).  Only the
   writer reads and writes its cur; the reader, taking an offered batch,
   changes the batch's offer, never the writer's cur. */
static inline bool is_offered(const pw_batch *b) { return (uintptr_t)b & 1; }
static inline pw_batch *untag(pw_batch *b) { return (pw_batch *)((uintptr_t)b & ~(uintptr_t)1); }

static void batch_release(pw_batch *b) {
  free(b->rec);
  free(b->str);
  free(b->raw);
  b->rec = b->str = b->raw = NULL;
}

static bool batch_alloc(pw_batch *b, size_t bytes) {
  b->rec_cap = bytes;
  b->str_cap = bytes;
  b->raw_cap = 4096;
  b->rec = malloc(b->rec_cap);
  b->str = malloc(b->str_cap);
  b->raw = malloc(b->raw_cap);
  if (b->rec && b->str && b->raw) return true;
  batch_release(b);
  return false;
}

static void batch_reset(pw_batch *b) {
  b->rec_len = b->str_len = b->raw_len = b->str_len16 = b->nrec = 0;
  b->run_open = false;
  b->next = NULL;
}

/* Room for `add` more bytes after `len` in a region (*p, *cap).  A region
   never passes 4 GiB (records hold u32 offsets and lengths): false then,
   as when memory runs out. */
static bool reserve(uint8_t **p, size_t *cap, uint32_t len, size_t add) {
  if (add > UINT32_MAX - len) return false;
  size_t need = (size_t)len + add;
  if (need <= *cap) return true;
  uint8_t *n = pw_grow(*p, cap, need);
  if (n) *p = n;
  return n != NULL;
}

pw_channel *pw_channel_new(int max, int spare, size_t batch_bytes) {
  pw_channel *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv_free, NULL);
  pw_cond_init(&c->cv_ready);
  c->all = calloc((size_t)max, sizeof *c->all);
  if (!c->all) {
    pw_channel_free(c);
    return NULL;
  }
  c->nall = max;
  c->allowed = spare < max ? spare : max;
  c->batch_bytes = batch_bytes;
  return c;
}

void pw_channel_add_writer(pw_channel *c) {
  pthread_mutex_lock(&c->mu);
  if (c->allowed < c->nall) c->allowed++;
  pthread_mutex_unlock(&c->mu);
}

void pw_channel_free(pw_channel *c) {
  if (!c) return;
  for (int i = 0; i < c->nmade; i++) batch_release(&c->all[i]);
  free(c->all);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv_free);
  pthread_cond_destroy(&c->cv_ready);
  free(c);
}

/* ---- the pool ------------------------------------------------------------ */

/* A free batch, a new one while fewer than allowed exist, or (when every
   allowed batch is full and not yet taken) wait for one.  NULL when
   cancelled (*err 0) or out of memory (*err ENOMEM). */
static pw_batch *take_free(pw_channel *c, int *err) {
  pw_batch *b = NULL;
  pthread_mutex_lock(&c->mu);
  if (!c->free_list && !c->cancelled && c->nmade < c->allowed) {
    b = &c->all[c->nmade];
    if (batch_alloc(b, c->batch_bytes)) c->nmade++;
    else {
      b = NULL;
      *err = ENOMEM;
    }
    pthread_mutex_unlock(&c->mu);
    if (b) batch_reset(b);
    return b;
  }
  if (!c->free_list && !c->cancelled) {
    atomic_fetch_add_explicit(&c->stalls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->waiting, 1, memory_order_relaxed);
    while (!c->free_list && !c->cancelled) pthread_cond_wait(&c->cv_free, &c->mu);
    atomic_fetch_sub_explicit(&c->waiting, 1, memory_order_relaxed);
  }
  b = c->cancelled ? NULL : c->free_list;
  if (b) c->free_list = b->next;
  pthread_mutex_unlock(&c->mu);
  if (b) batch_reset(b);
  return b;
}

/* With the lock held: b to the end of the ready queue. */
static void enqueue(pw_channel *c, pw_batch *b) {
  b->next = NULL;
  if (c->ready_tail) c->ready_tail->next = b;
  else c->ready_head = b;
  c->ready_tail = b;
  pthread_cond_signal(&c->cv_ready);
}

static void submit(pw_channel *c, pw_batch *b) {
  pthread_mutex_lock(&c->mu);
  enqueue(c, b);
  pthread_mutex_unlock(&c->mu);
}

/* The reader starves: hand b over as it is, unless another writer fed it
   first (one batch ends a wait).  True when b was handed over. */
static bool feed(pw_channel *c, pw_batch *b) {
  pthread_mutex_lock(&c->mu);
  bool fed = atomic_load_explicit(&c->starved, memory_order_relaxed) && !c->cancelled;
  if (fed) {
    atomic_store_explicit(&c->starved, false, memory_order_relaxed);
    enqueue(c, b);
  }
  pthread_mutex_unlock(&c->mu);
  return fed;
}

/* The writer's batch back from its offer: still its own (the reader did
   not take it), or NULL.  (The token is the writer's own: a batch the
   reader took and another writer offered since has another.) */
static pw_batch *reclaim(pw_batch **cur) {
  pw_batch *b = untag(*cur);
  uintptr_t tok = (uintptr_t)cur;
  *cur = atomic_compare_exchange_strong(&b->offer, &tok, 0) ? b : NULL;
  return *cur;
}

/* The batch a writer appends to next: its own, back from an offer, or
   NULL; handed over as it is when the reader starves (one relaxed load
   per record, of a line the reader writes only as it starts or stops
   starving). */
static inline pw_batch *writer_batch(pw_channel *c, pw_batch **cur) {
  pw_batch *b = *cur;
  if (is_offered(b)) b = reclaim(cur);
  if (b && b->nrec && atomic_load_explicit(&c->starved, memory_order_relaxed) && feed(c, b))
    *cur = b = NULL;
  return b;
}

void pw_channel_offer(pw_channel *c, pw_batch **cur) {
  pw_batch *b = *cur;
  if (!b || is_offered(b) || !b->nrec) return;
  /* The reader may have looked for offers just before this one and wait
     now: hand the batch over.  (Its store of starved and its look at the
     offers, and this store of the offer and look at starved, are
     sequentially consistent: one of the two sees the other.)  Another
     writer may feed it first: the batch is offered again, never left
     neither offered nor queued (its rows unseen until this writer's next
     record); a few tries, then it stays offered for the reader's next look
     (a cancelled channel feeds no one). */
  for (int tries = 0;; tries++) {
    atomic_store(&b->offer, (uintptr_t)cur);
    *cur = (pw_batch *)((uintptr_t)b | 1);
    if (tries == 3 || !atomic_load(&c->starved) || !(b = reclaim(cur))) return;
    if (feed(c, b)) {
      *cur = NULL;
      return;
    }
  }
}

/* With the lock held: an offered batch, taken from its writer, or NULL. */
static pw_batch *take_offered(pw_channel *c) {
  for (int i = 0; i < c->nmade; i++) {
    pw_batch *b = &c->all[i];
    uintptr_t v = atomic_load(&b->offer);
    if (v && atomic_compare_exchange_strong(&b->offer, &v, 0)) return b;
  }
  return NULL;
}

static void give_back(pw_channel *c, pw_batch *b) {
  pthread_mutex_lock(&c->mu);
  b->next = c->free_list;
  c->free_list = b;
  pthread_cond_signal(&c->cv_free);
  pthread_mutex_unlock(&c->mu);
}

void pw_channel_release(pw_channel *c, pw_batch **cur, bool keep) {
  pw_batch *b = *cur;
  if (is_offered(b)) b = reclaim(cur);
  *cur = NULL;
  if (!b) return;
  if (b->nrec && keep) submit(c, b);
  else give_back(c, b);
}

bool pw_channel_held_back(pw_channel *c) {
  uint64_t s = atomic_load_explicit(&c->stalls, memory_order_relaxed);
  bool held = s != c->stalls_seen || atomic_load_explicit(&c->waiting, memory_order_relaxed) > 0;
  c->stalls_seen = s;
  return held;
}

void pw_channel_close(pw_channel *c) {
  pthread_mutex_lock(&c->mu);
  c->closed = true;
  pthread_cond_broadcast(&c->cv_ready);
  pthread_mutex_unlock(&c->mu);
}

void pw_channel_cancel(pw_channel *c) {
  pthread_mutex_lock(&c->mu);
  c->cancelled = true;
  pthread_cond_broadcast(&c->cv_free);
  pthread_cond_broadcast(&c->cv_ready);
  pthread_mutex_unlock(&c->mu);
}

int32_t pw_channel_next(pw_channel *c, uint64_t *out) {
  pthread_mutex_lock(&c->mu);
  if (c->held) {
    c->held->next = c->free_list;
    c->free_list = c->held;
    c->held = NULL;
    pthread_cond_signal(&c->cv_free);
  }
  /* Nothing ready for PW_PARTIAL_AFTER_MS: a batch a writer offered (it
     went idle, or ended a folder) as it is; none either: starve, and the
     next writer to append hands over what it has, however little.  So
     entries already read reach JavaScript while a folder is slow to read,
     not when the walk ends; and while full batches keep coming (a reader
     that is the bottleneck, or briefly ahead), batches stay full: taken
     at once, partial ones made the reader starve after each of them, one
     FFI call per folder or so (3,000 calls instead of 250 on a warm
     200,000-entry walk). */
  pw_batch *b = NULL;
  bool starving = false;
  struct timespec until;
  bool timed = false; /* until set */
  while (!c->ready_head && !c->closed && !c->cancelled) {
    if (!starving) {
      if (!timed) pw_deadline(&until, PW_PARTIAL_AFTER_MS * 1000000LL);
      timed = true;
      if (pthread_cond_timedwait(&c->cv_ready, &c->mu, &until) != ETIMEDOUT) continue;
      starving = true;
      continue;
    }
    if ((b = take_offered(c))) break;
    atomic_store(&c->starved, true);
    if ((b = take_offered(c))) break;
    pthread_cond_wait(&c->cv_ready, &c->mu);
  }
  atomic_store_explicit(&c->starved, false, memory_order_relaxed);
  if (!b && !c->cancelled && c->ready_head) {
    b = c->ready_head;
    c->ready_head = b->next;
    if (!c->ready_head) c->ready_tail = NULL;
  }
  if (b) {
    c->held = b;
    out[0] = (uint64_t)(uintptr_t)b->rec;
    out[1] = b->rec_len;
    out[2] = (uint64_t)(uintptr_t)b->str;
    out[3] = b->str_len;
    out[4] = (uint64_t)(uintptr_t)b->raw;
    out[5] = b->raw_len;
    out[6] = b->nrec;
  }
  pthread_mutex_unlock(&c->mu);
  return b != NULL;
}

/* ---- records ------------------------------------------------------------- */

int pw_channel_raw(pw_batch *b, const char *s, size_t n, uint32_t *off) {
  if (!reserve(&b->raw, &b->raw_cap, b->raw_len, n)) return ENOMEM;
  memcpy(b->raw + b->raw_len, s, n);
  *off = b->raw_len;
  b->raw_len += (uint32_t)n;
  return 0;
}

/* Store path (u16: its UTF-16 length, -1 when not UTF-8) + base-name
   offset in r; returns the flags to add to the kind. */
static int put_path(pw_batch *b, uint8_t *r, const char *path, size_t len, int64_t u16,
                    size_t name_off, uint32_t *flags) {
  if (u16 < 0) {
    uint32_t off;
    if (pw_channel_raw(b, path, len, &off)) return ENOMEM;
    pw_put_u32(r + 4, off);
    pw_put_u32(r + 8, (uint32_t)len);
    pw_put_u32(r + 12, (uint32_t)name_off);
    *flags = PW_RECF_NOT_UTF8;
    return 0;
  }
  memcpy(b->str + b->str_len, path, len);
  b->str_len += (uint32_t)len;
  pw_put_u32(r + 4, b->str_len16);
  pw_put_u32(r + 8, (uint32_t)u16);
  int64_t prefix16 =
      (size_t)u16 == len ? (int64_t)name_off : pw_utf16_len((const uint8_t *)path, name_off);
  pw_put_u32(r + 12, (uint32_t)prefix16);
  b->str_len16 += (uint32_t)u16;
  *flags = 0;
  return 0;
}

uint8_t *pw_channel_put(pw_channel *c, pw_batch **cur, uint32_t kind, const char *path,
                        size_t len, size_t name_off, int *err) {
  *err = 0;
  pw_batch *b = writer_batch(c, cur);
  int64_t u16 = pw_utf16_len((const uint8_t *)path, len);
  /* The path goes to str (UTF-8) or to raw (not), never to both. */
  size_t raw_add = u16 < 0 ? len : 0, str_add = len - raw_add;
  /* Full: the batch goes to the reader.  Raw counts toward batch_bytes too
     (its capacity grows as needed): a batch of long non-UTF-8 paths is
     handed on as soon as one more would pass it, and so is one whose raw
     passed it already (an error's message lands there after its record). */
  if (b && b->nrec &&
      (b->rec_len + PW_REC_SIZE > b->rec_cap || (uint64_t)b->str_len + str_add > b->str_cap ||
       (uint64_t)b->raw_len + raw_add > c->batch_bytes)) {
    submit(c, b);
    b = NULL;
  }
  if (!b) b = take_free(c, err);
  *cur = b;
  if (!b) return NULL;
  /* A path longer than a whole batch: grow this batch's buffers (raw's
     grows in put_path). */
  if (!reserve(&b->str, &b->str_cap, b->str_len, str_add) ||
      !reserve(&b->rec, &b->rec_cap, b->rec_len, PW_REC_SIZE)) {
    *err = ENOMEM;
    return NULL;
  }
  uint8_t *r = b->rec + b->rec_len;
  uint32_t flags;
  if (put_path(b, r, path, len, u16, name_off, &flags)) {
    *err = ENOMEM;
    return NULL;
  }
  pw_put_u32(r, kind | flags);
  b->rec_len += PW_REC_SIZE;
  b->nrec++;
  b->run_open = false;
  return r;
}

int pw_channel_put_name(pw_channel *c, pw_batch **cur, uint32_t kind, const char *name,
                        size_t len, uint32_t type, int32_t depth, uint32_t hold,
                        uint64_t group) {
  pw_batch *b = writer_batch(c, cur);
  if (b && b->run_open && b->run_kind == kind && b->run_type == type && b->run_group == group &&
      b->run_hold_next == hold && b->str_len + 1 + len <= b->str_cap) {
    int64_t u16 = pw_utf16_len((const uint8_t *)name, len);
    if (u16 >= 0) {
      /* one more name in the run: '/' (never in a name) and the name */
      uint8_t *r = b->rec + b->rec_len - PW_REC_SIZE;
      b->str[b->str_len++] = '/';
      memcpy(b->str + b->str_len, name, len);
      b->str_len += (uint32_t)len;
      b->str_len16 += 1 + (uint32_t)u16;
      uint32_t plen, n;
      memcpy(&plen, r + 8, 4);
      memcpy(&n, r + 124, 4);
      pw_put_u32(r + 8, plen + 1 + (uint32_t)u16);
      pw_put_u32(r + 124, n + 1);
      if (hold) b->run_hold_next++;
      return 0;
    }
  }
  int err;
  uint8_t *r = pw_channel_put(c, cur, kind, name, len, 0, &err);
  if (!r) return err ? err : ECANCELED;
  memset(r + 16, 0, PW_REC_SIZE - 16);
  memcpy(r + 16, &depth, 4);
  pw_put_u32(r + 20, type);
  pw_put_u32(r + 120, hold);
  pw_put_u32(r + 124, 1);
  pw_put_f64(r + 128, (double)group);
  b = *cur;
  uint32_t k;
  memcpy(&k, r, 4);
  /* a name that is not UTF-8 (in raw) stays a record of its own */
  b->run_open = !(k & PW_RECF_NOT_UTF8);
  b->run_kind = kind;
  b->run_type = type;
  b->run_group = group;
  b->run_hold_next = hold ? hold + 1 : 0;
  return 0;
}
