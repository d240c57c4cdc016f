/* A minimal single-threaded echo server on epoll, the readiness-based baseline for
 * bench/echo_compare.sh (the floor ringo on AIO is measured against: AIO serves sockets
 * by readiness too). Level-triggered, non-blocking sockets; a connection writes each
 * chunk it reads back at once, and only when the socket's send buffer is full does it
 * switch its interest to EPOLLOUT until the rest is gone.
 * Usage: epoll_echo PORT */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../listen_loopback.h"

#define BUF 16384
#define MAX_FDS 65536

struct conn {
  char buf[BUF];
  int len, sent; /* bytes of buf still to write back: [sent, len) */
};
static struct conn *conns[MAX_FDS];
static int ep;

static void watch(int op, int fd, unsigned events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(ep, op, fd, &ev);
}

static void drop(int fd) {
  free(conns[fd]);
  conns[fd] = NULL;
  close(fd); /* also removes it from the epoll set */
}

static void accept_all(int lfd) {
  int one = 1;
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return; /* EAGAIN: drained */
    if (fd >= MAX_FDS) {
      close(fd);
      continue;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd] = calloc(1, sizeof(struct conn));
    watch(EPOLL_CTL_ADD, fd, EPOLLIN);
  }
}

/* Writes what is pending; returns 1 when all of it went, 0 when the socket is full, -1 on
 * error. */
static int flush(int fd) {
  struct conn *c = conns[fd];
  while (c->sent < c->len) {
    ssize_t n = send(fd, c->buf + c->sent, (size_t)(c->len - c->sent), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->sent += (int)n;
  }
  return 1;
}

/* One recv per readiness event: level-triggered epoll reports the socket again if more is
 * left, so reading on to EAGAIN would only add a syscall per request. */
static void on_readable(int fd) {
  struct conn *c = conns[fd];
  ssize_t n = recv(fd, c->buf, BUF, 0);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    drop(fd);
    return;
  }
  c->len = (int)n;
  c->sent = 0;
  int r = flush(fd);
  if (r < 0) {
    drop(fd);
  } else if (r == 0) { /* full: stop reading until the echo is out */
    watch(EPOLL_CTL_MOD, fd, EPOLLOUT);
  }
}

static void on_writable(int fd) {
  int r = flush(fd);
  if (r < 0) {
    drop(fd);
  } else if (r > 0) {
    watch(EPOLL_CTL_MOD, fd, EPOLLIN);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int lfd = listen_loopback(argv[1], SOCK_NONBLOCK);
  if (lfd < 0) return 1;
  ep = epoll_create1(0);
  watch(EPOLL_CTL_ADD, lfd, EPOLLIN);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        accept_all(lfd);
      } else if (conns[fd] == NULL) {
        continue; /* dropped earlier in this batch */
      } else if (events[i].events & EPOLLOUT) {
        on_writable(fd);
      } else {
        on_readable(fd);
      }
    }
  }
}
