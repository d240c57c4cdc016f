/* A minimal single-threaded echo server on raw liburing, the baseline for
 * bench/echo_compare.sh: SINGLE_ISSUER + DEFER_TASKRUN, one recv or send in flight per
 * connection, accept re-armed after each connection.
 * Usage: uring_echo PORT [--fixed]
 * --fixed: each accepted socket is registered in the ring's file table (slot = its fd)
 * and every recv and send names it by slot (IOSQE_FIXED_FILE): no fdget/fdput per op.
 * What issue 19 asked to measure before building registered files into ringo. */
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../listen_loopback.h"

enum { ACCEPT = 1, RECV = 2, SEND = 3 };
#define BUF 16384
#define MAX_FDS 65536

struct conn {
  char buf[BUF];
  int len, sent;
};
static struct conn* conns[MAX_FDS];
static int fixed; /* --fixed */

/* The sqe's descriptor: the fd itself, or its slot in the file table. */
static void use_fd(struct io_uring_sqe* s) {
  if (fixed) s->flags |= IOSQE_FIXED_FILE;
}

static void* tag(int kind, int fd) { return (void*)(((unsigned long)kind << 32) | (unsigned)fd); }

static struct io_uring_sqe* sqe_of(struct io_uring* ring) {
  struct io_uring_sqe* s = io_uring_get_sqe(ring);
  if (!s) {
    io_uring_submit(ring);
    s = io_uring_get_sqe(ring);
  }
  return s;
}

static void arm_recv(struct io_uring* ring, int fd) {
  struct io_uring_sqe* s = sqe_of(ring);
  io_uring_prep_recv(s, fd, conns[fd]->buf, BUF, 0);
  use_fd(s);
  io_uring_sqe_set_data(s, tag(RECV, fd));
}

static void arm_send(struct io_uring* ring, int fd) {
  struct conn* c = conns[fd];
  struct io_uring_sqe* s = sqe_of(ring);
  io_uring_prep_send(s, fd, c->buf + c->sent, (size_t)(c->len - c->sent), MSG_NOSIGNAL);
  use_fd(s);
  io_uring_sqe_set_data(s, tag(SEND, fd));
}

static void arm_accept(struct io_uring* ring, int lfd) {
  struct io_uring_sqe* s = sqe_of(ring);
  io_uring_prep_accept(s, lfd, NULL, NULL, 0);
  io_uring_sqe_set_data(s, tag(ACCEPT, lfd));
}

static void drop(struct io_uring* ring, int fd) {
  free(conns[fd]);
  conns[fd] = NULL;
  if (fixed) {
    int none = -1;
    io_uring_register_files_update(ring, (unsigned)fd, &none, 1);
  }
  close(fd);
}

int main(int argc, char** argv) {
  fixed = argc == 3 && strcmp(argv[2], "--fixed") == 0;
  if (argc != 2 && !fixed) {
    fprintf(stderr, "usage: uring_echo PORT [--fixed]\n");
    return 2;
  }
  int lfd = listen_loopback(argv[1], 0), one = 1;
  if (lfd < 0) return 1;
  struct io_uring ring;
  struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
    fprintf(stderr, "io_uring setup failed\n");
    return 1;
  }
  /* The table is as large as the descriptor limit allows (the kernel refuses more), so
   * every fd the server can hold has its slot. */
  struct rlimit lim;
  unsigned slots = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < MAX_FDS ? (unsigned)lim.rlim_cur : MAX_FDS;
  if (fixed && io_uring_register_files_sparse(&ring, slots) < 0) {
    fprintf(stderr, "io_uring_register_files_sparse failed\n");
    return 1;
  }
  arm_accept(&ring, lfd);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      unsigned long ud = (unsigned long)io_uring_cqe_get_data(cqe);
      int kind = (int)(ud >> 32), fd = (int)(ud & 0xffffffff), res = cqe->res;
      if (kind == ACCEPT) {
        if (res >= 0 && res < MAX_FDS) {
          setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns[res] = calloc(1, sizeof(struct conn));
          if (fixed && io_uring_register_files_update(&ring, (unsigned)res, &res, 1) != 1) {
            fprintf(stderr, "uring_echo: registering fd %d failed\n", res);
            return 1;
          }
          arm_recv(&ring, res);
        } else if (res >= 0) {
          close(res);
        }
        arm_accept(&ring, lfd);
      } else if (kind == RECV) {
        if (res <= 0) {
          drop(&ring, fd);
        } else {
          conns[fd]->len = res;
          conns[fd]->sent = 0;
          arm_send(&ring, fd);
        }
      } else if (kind == SEND) {
        if (res < 0) {
          drop(&ring, fd);
        } else if ((conns[fd]->sent += res) < conns[fd]->len) {
          arm_send(&ring, fd);
        } else {
          arm_recv(&ring, fd);
        }
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
