/* The raw UDP echo peer: one thread, a blocking socket on 127.0.0.1:PORT, up to 64
 * datagrams a system call each way (recvmmsg with MSG_WAITFORONE, then sendmmsg back to
 * each sender). What a UDP server written for throughput on Linux does without io_uring.
 *   udp_mmsg_echo PORT */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { kBatch = 64, kMaxDatagram = 2048 };

int main(int argc, char** argv) {
  if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
    fprintf(stderr, "usage: udp_mmsg_echo PORT\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("udp_mmsg_echo: bind");
    return 1;
  }
  static char bufs[kBatch][kMaxDatagram];
  static struct sockaddr_in from[kBatch];
  static struct iovec iov[kBatch];
  static struct mmsghdr msgs[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = (struct iovec){bufs[i], kMaxDatagram};
      msgs[i].msg_hdr =
          (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, NULL);
    if (n < 0) {
      perror("udp_mmsg_echo: recvmmsg");
      return 1;
    }
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
    for (int sent = 0; sent < n;) {
      int k = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
      if (k <= 0) break; /* a datagram that cannot go is dropped, as UDP may */
      sent += k;
    }
  }
}
