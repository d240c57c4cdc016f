/* The floors for cross-shard traffic between two spinning threads.
 * Over IORING_OP_MSG_RING, one io_uring each (SINGLE_ISSUER), spinning on their CQs:
 *   ping-pong: a message to the other ring, wait for the reply; ns per round trip.
 *   stream:    one thread sends batches of messages as fast as it can, the other reaps;
 *              messages per second.
 * The sender's own completion is skipped (IOSQE_CQE_SKIP_SUCCESS).
 * Over shared memory only (what ringo's awake shards use: they poll their inboxes):
 *   shared-memory ping-pong: each thread flips one atomic word and spins on the other's;
 *   ns per round trip, the cost of moving two cache lines between the cores.
 * Prints "name value unit" lines for bench/compare.sh. Usage: msg_ring_peer [round_trips [round-trips-only]] */
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct side {
  struct io_uring ring;
  struct side *peer;
  atomic_int ring_fd; /* published once the thread made its ring */
  int peer_fd;
  long count;
  int mode; /* 0 ping-pong initiator, 1 ping-pong echoer, 2 stream sender, 3 stream receiver */
};

static atomic_int ready;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void send_msg(struct side *s, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    io_uring_prep_msg_ring(sqe, s->peer_fd, 0, 1, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }
  io_uring_submit(&s->ring);
}

/* Spins until at least one message arrived; returns how many were reaped. */
static unsigned wait_msgs(struct side *s) {
  for (;;) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&s->ring, head, cqe) { ++n; }
    if (n > 0) {
      io_uring_cq_advance(&s->ring, n);
      return n;
    }
    /* A MSG_RING to a SINGLE_ISSUER ring arrives as task work for its thread: run it
     * when the kernel flags it (the same check ringo's shards make). */
    if (IO_URING_READ_ONCE(*s->ring.sq.kflags) & IORING_SQ_TASKRUN) io_uring_get_events(&s->ring);
  }
}

/* The sender's own CQEs: only failed sends post one (success is skipped). */
static unsigned reap_failures(struct side *s) {
  struct io_uring_cqe *cqe;
  unsigned head, n = 0;
  io_uring_for_each_cqe(&s->ring, head, cqe) { ++n; }
  io_uring_cq_advance(&s->ring, n);
  return n;
}

static void *run(void *arg) {
  struct side *s = arg;
  /* SINGLE_ISSUER: the ring belongs to the thread that creates it. */
  struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
                                       IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE,
                              .cq_entries = 65536};
  if (io_uring_queue_init_params(4096, &s->ring, &p) < 0) exit(1);
  atomic_store(&s->ring_fd, s->ring.ring_fd);
  while (atomic_load(&s->peer->ring_fd) < 0) {
  }
  s->peer_fd = atomic_load(&s->peer->ring_fd);
  atomic_fetch_add(&ready, 1);
  while (atomic_load(&ready) < 2) {
  }
  if (s->mode == 0) {
    for (long i = 0; i < s->count; ++i) {
      send_msg(s, 1);
      wait_msgs(s);
    }
  } else if (s->mode == 1) {
    for (long i = 0; i < s->count; ++i) {
      wait_msgs(s);
      send_msg(s, 1);
    }
  } else if (s->mode == 2) {
    /* A message the receiver's full CQ refused (-EOVERFLOW: it was preempted while we
     * kept sending) comes back as our own CQE: send it again, or the receiver waits for
     * it forever. That hung `make bench` on a loaded machine. */
    for (long sent = 0; sent < s->count;) {
      send_msg(s, 32);
      sent += 32 - (long)reap_failures(s);
    }
  } else {
    for (long got = 0; got < s->count;) got += wait_msgs(s);
  }
  atomic_fetch_add(&ready, 1);
  while (atomic_load(&ready) < 4) { /* keep the ring until the peer stops sending to it */
  }
  io_uring_queue_exit(&s->ring);
  return NULL;
}

static double pair(int mode_a, int mode_b, long count) {
  struct side a = {.count = count, .mode = mode_a}, b = {.count = count, .mode = mode_b};
  a.peer = &b;
  b.peer = &a;
  atomic_store(&a.ring_fd, -1);
  atomic_store(&b.ring_fd, -1);
  atomic_store(&ready, 0);
  pthread_t ta, tb;
  const double start = now_ns();
  pthread_create(&tb, NULL, run, &b);
  pthread_create(&ta, NULL, run, &a);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  return now_ns() - start;
}

static _Alignas(64) atomic_long ping_word;
static _Alignas(64) atomic_long pong_word;

static void *echo_words(void *arg) {
  const long count = *(const long *)arg;
  for (long i = 1; i <= count; ++i) {
    while (atomic_load_explicit(&ping_word, memory_order_acquire) != i) {
    }
    atomic_store_explicit(&pong_word, i, memory_order_release);
  }
  return NULL;
}

static double shared_memory_pair(long count) {
  atomic_store(&ping_word, 0);
  atomic_store(&pong_word, 0);
  pthread_t t;
  pthread_create(&t, NULL, echo_words, &count);
  const double start = now_ns();
  for (long i = 1; i <= count; ++i) {
    atomic_store_explicit(&ping_word, i, memory_order_release);
    while (atomic_load_explicit(&pong_word, memory_order_acquire) != i) {
    }
  }
  const double elapsed = now_ns() - start;
  pthread_join(t, NULL);
  return elapsed;
}

int main(int argc, char **argv) {
  const long trips = argc > 1 ? atol(argv[1]) : 200000;
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t = pair(0, 1, trips) / (double)trips;
    if (t < best) best = t;
  }
  printf("raw_msg_ring_round_trip %.1f ns\n", best);
  const int round_trips_only = argc > 2;
  const long msgs = 4000000;
  double best_rate = 0;
  for (int r = 0; r < 3 && !round_trips_only; ++r) {
    const double rate = (double)msgs / (pair(2, 3, msgs) / 1e9);
    if (rate > best_rate) best_rate = rate;
  }
  if (!round_trips_only) printf("raw_msg_ring_stream %.0f msgs/s\n", best_rate);
  double best_shared = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t = shared_memory_pair(trips) / (double)trips;
    if (t < best_shared) best_shared = t;
  }
  printf("raw_shared_memory_round_trip %.1f ns\n", best_shared);
  return 0;
}
