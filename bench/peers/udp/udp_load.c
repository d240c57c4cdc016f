/* UDP load for the echo servers of bench/udp_compare.sh: one thread, one socket connected
 * to 127.0.0.1:PORT, SIZE-byte datagrams carrying a sequence number.
 *   udp_load PORT ping SECONDS SIZE          one datagram in flight: round-trip latency
 *   udp_load PORT flood SECONDS SIZE WINDOW  WINDOW in flight: echoes a second
 * Prints "udp_load MODE: echoes=N rps=R p50_us=A p99_us=B lost=L". A datagram not echoed
 * within 20 ms counts as lost and is replaced (loopback drops when a socket buffer
 * overflows). Echoes of another size or a number never sent count as corrupted (exit 1). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { kMaxSize = 2048, kMaxSamples = 1 << 22 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double sent_at[1 << 16]; /* by sequence number mod 65536 */
static double samples[kMaxSamples];

int main(int argc, char** argv) {
  const int flood = argc == 6 && strcmp(argv[2], "flood") == 0;
  const int ping = argc == 5 && strcmp(argv[2], "ping") == 0;
  const int port = argc > 1 ? atoi(argv[1]) : 0, seconds = argc > 3 ? atoi(argv[3]) : 0;
  const int size = argc > 4 ? atoi(argv[4]) : 0, window = flood ? atoi(argv[5]) : 1;
  if ((!flood && !ping) || port <= 0 || port > 65535 || seconds <= 0 || size < 8 || size > kMaxSize || window <= 0 ||
      window > 4096) {
    fprintf(stderr, "usage: udp_load PORT ping SECONDS SIZE | udp_load PORT flood SECONDS SIZE WINDOW\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {0, 20000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("udp_load: connect");
    return 1;
  }
  char out[kMaxSize] = {0}, in[kMaxSize + 1];
  uint64_t next = 0, echoes = 0, lost = 0, corrupted = 0, n = 0;
  const double end = now_us() + seconds * 1e6;
  for (int i = 0; i < window; ++i, ++next) {
    memcpy(out, &next, sizeof next);
    sent_at[next & 0xFFFF] = now_us();
    send(fd, out, (size_t)size, 0);
  }
  while (now_us() < end) {
    ssize_t got = recv(fd, in, sizeof in, 0);
    if (got < 0) { /* nothing for 20 ms: what was in flight is lost; refill the window */
      lost += (uint64_t)window;
      for (int i = 0; i < window; ++i, ++next) {
        memcpy(out, &next, sizeof next);
        sent_at[next & 0xFFFF] = now_us();
        send(fd, out, (size_t)size, 0);
      }
      continue;
    }
    uint64_t seq;
    memcpy(&seq, in, sizeof seq);
    if (got != size || seq >= next) {
      ++corrupted;
      continue;
    }
    ++echoes;
    if (n < kMaxSamples) samples[n++] = now_us() - sent_at[seq & 0xFFFF];
    memcpy(out, &next, sizeof next);
    sent_at[next & 0xFFFF] = now_us();
    ++next;
    send(fd, out, (size_t)size, 0);
  }
  qsort(samples, n, sizeof samples[0], cmp);
  printf("udp_load %s: echoes=%llu rps=%.0f p50_us=%.1f p99_us=%.1f lost=%llu corrupted=%llu\n", argv[2],
         (unsigned long long)echoes, (double)echoes / seconds, n ? samples[n / 2] : 0.0,
         n ? samples[n * 99 / 100] : 0.0, (unsigned long long)lost, (unsigned long long)corrupted);
  return corrupted == 0 ? 0 : 1;
}
